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
their period rows made), so every event takes the hot path. The batch's JSON is
written as text inside the measured statement and parsed into jsonb, as the same
JSON sent by an app is when PostgREST passes it to the function.
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


def _batch(events: int) -> str:
    # The JSON text an app would send, parsed into jsonb as PostgREST's call would.
    return f"""select public.record_usage_batch((
    select ('[' || string_agg(format(
        '{{"workspace_id": "00000000-0000-0000-0000-%s", "metric": "messages", "quantity": 1, "idempotency_key": "%s"}}',
        lpad((1 + floor(random() * :workspaces))::int::text, 12, '0'),
        gen_random_uuid()
    ), ',') || ']')::jsonb
    from generate_series(1, {events})
));
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
            setup=SETUP,
            script=_batch(events),
            clients=clients,
        ),
    ]


SCENARIOS: list[Scenario] = _pair(EVENTS, (1, 8)) + _pair(1000, (8,))
