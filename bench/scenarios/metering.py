"""Batch metering scenarios: usage events per second through
``record_usage_batch`` against the single-call path, as service_role.

* ``metering_single_100`` and ``metering_single_1000`` (baselines of their own):
  100 or 1,000 ``record_usage`` calls, one statement and one transaction each, with
  a fresh idempotency key and a random one of 1,000 workspaces: the single-call
  path, 100 or 1,000 events per script run.
* ``metering_batch_100`` and ``metering_batch_1000``: the same events in one
  ``record_usage_batch`` call, each paired with the single-call script carrying as
  many events, so the TPS ratio is the ratio of events per second. Target: the
  batch path at >= 3x the single-call path.

Setup is the usage scenarios' (1,000 workspaces on a plan a run cannot exhaust,
their period rows made), so every event takes the hot path. A batch arrives as JSON
text and is parsed into jsonb in the measured statement, as PostgREST passes an
app's JSON to the function. The app builds that text, not the database: setup
writes a pool of batch texts (random workspaces, a key per event left open), and
each call takes one at random and puts a fresh UUID into its keys with one
``replace``, so every key is new. Building the text in the statement instead
(``format`` and ``random`` per event, ``string_agg``) cost a batch of 100 about
0.3 ms of its 3.3-3.5 ms (bench/README.md, "Batch texts from a pool"), work no app
asks of the database.
"""

from __future__ import annotations

from bench.scenario import SERVICE_ROLE_SESSION, Scenario
from bench.scenarios.usage import SETUP, WORKSPACES, WS_ID

EVENTS = 100


def _single(events: int) -> str:
    return "\n".join(
        "\\set w random(1, :workspaces)\n"
        f"select public.record_usage(workspace_id => {WS_ID}, metric => 'messages', quantity => 1,"
        " idempotency_key => gen_random_uuid()::text);"
        for _ in range(events)
    ) + "\n"


# Events in the pool of batch texts: every workspace appears in many of its batches.
POOL_EVENTS = 100_000
# Stands in each pooled key for the call's fresh UUID.
KEY_PLACEHOLDER = "@key@"


def _pool_setup(events: int) -> str:
    """Setup: the usage scenarios' workspaces, then ``bench.metering_batches``, batch texts of ``events`` events."""
    return (
        SETUP
        + f"""
    create schema if not exists bench;
    create table bench.metering_batches (n integer primary key, events text not null);
    insert into bench.metering_batches (n, events)
    select b, '[' || string_agg(format(
        '{{"workspace_id": "00000000-0000-0000-0000-%s", "metric": "messages", "quantity": 1, "idempotency_key": "%s-%s"}}',
        lpad((1 + floor(random() * {WORKSPACES}))::int::text, 12, '0'), '{KEY_PLACEHOLDER}', e
    ), ',' order by e) || ']'
    from generate_series(1, {POOL_EVENTS // events}) as b
    cross join generate_series(1, {events}) as e
    group by b;
    grant usage on schema bench to service_role;
    grant select on bench.metering_batches to service_role;
"""
    )


def _batch(events: int) -> str:
    return f"""\\set b random(1, {POOL_EVENTS // events})
select public.record_usage_batch(replace(p.events, '{KEY_PLACEHOLDER}', gen_random_uuid()::text)::jsonb)
from bench.metering_batches as p
where p.n = :b;
"""


def _pair(events: int, clients: tuple[int, ...]) -> list[Scenario]:
    single = f"metering_single_{events}"
    return [
        Scenario(
            name=single,
            description=f"baseline of the batch path: {events:,} record_usage calls, one transaction each",
            baseline=None,
            session=SERVICE_ROLE_SESSION,
            variables={"workspaces": WORKSPACES},
            setup=SETUP,
            script=_single(events),
            clients=clients,
        ),
        Scenario(
            name=f"metering_batch_{events}",
            description=f"the same {events:,} events in one record_usage_batch call, as service_role",
            baseline=single,
            target_ratio=3.0,
            session=SERVICE_ROLE_SESSION,
            variables={"workspaces": WORKSPACES},
            setup=_pool_setup(events),
            script=_batch(events),
            clients=clients,
        ),
    ]


SCENARIOS: list[Scenario] = _pair(EVENTS, (1, 8)) + _pair(1000, (8,))
