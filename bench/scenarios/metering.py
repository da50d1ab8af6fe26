"""Batch metering scenarios (issue 13, item 6): usage events per second through
``record_usage_batch`` against the single-call path, as service_role.

* ``metering_single_100`` (a baseline of its own): 100 ``record_usage`` calls, one
  statement and one transaction each, with a fresh idempotency key and a random
  one of 1,000 workspaces: the single-call path, 100 events per script run.
* ``metering_batch_100``: the same 100 events in one ``record_usage_batch`` call.
  Both scripts carry 100 events, so the TPS ratio is the ratio of events per
  second. Target: the batch path at >= 3x the single-call path.
* ``metering_batch_1000``: 1,000 events per call, against ``insert_unique_key``
  (events per second = 1,000 x its TPS), to show how a full batch scales.

Setup is the usage scenarios' (1,000 workspaces on a plan a run cannot exhaust,
their period rows made), so every event takes the hot path. The batch's JSON is
built inside the measured statement (jsonb_agg over generate_series), which costs
about what parsing the same JSON sent by an app would.
"""

from __future__ import annotations

from bench.scenario import SERVICE_ROLE_SESSION, Scenario
from bench.scenarios.usage import SETUP, WORKSPACES, WS_ID

EVENTS = 100

SINGLE = "\n".join(
    "\\set w random(1, :workspaces)\n"
    f"select public.record_usage(workspace_id => {WS_ID}, metric => 'messages', quantity => 1,"
    " idempotency_key => gen_random_uuid()::text);"
    for _ in range(EVENTS)
) + "\n"


def _batch(events: int) -> str:
    return f"""select public.record_usage_batch((
    select jsonb_agg(jsonb_build_object(
        'workspace_id', '00000000-0000-0000-0000-' || lpad((1 + floor(random() * :workspaces))::int::text, 12, '0'),
        'metric', 'messages',
        'quantity', 1,
        'idempotency_key', gen_random_uuid()::text
    ))
    from generate_series(1, {events})
));
"""


SCENARIOS: list[Scenario] = [
    Scenario(
        name="metering_single_100",
        description="baseline of the batch path: 100 record_usage calls (one transaction each), as service_role",
        baseline=None,
        session=SERVICE_ROLE_SESSION,
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script=SINGLE,
        clients=(1, 8),
    ),
    Scenario(
        name="metering_batch_100",
        description="the same 100 events in one record_usage_batch call, as service_role",
        baseline="metering_single_100",
        target_ratio=3.0,
        clients=(1, 8),
        session=SERVICE_ROLE_SESSION,
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script=_batch(EVENTS),
    ),
    Scenario(
        name="metering_batch_1000",
        description="1,000 events in one record_usage_batch call (events/s = 1,000 x TPS), as service_role",
        baseline="insert_unique_key",
        session=SERVICE_ROLE_SESSION,
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script=_batch(1000),
    ),
]
