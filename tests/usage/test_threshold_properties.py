"""Usage and thresholds against a model, across plan changes (Hypothesis state machine).

Rules drawn at random: record_usage of SMS, record_usage_batch of a few SMS events
(some repeating a key earlier in the batch or one already recorded), authorize_usage, plan changes between
free, pro and business (as subscription activation does them), and on-call
acknowledging the open alerts. After every step the database must match a Python
model: the period's total (usage that happened is recorded past the hard limit
too), the answer's limit_state, authorize_usage refusing (PT402) exactly when the
period is at its hard limit, and exactly one usage_warning and one usage_blocked
alert per threshold, period and plan that the usage reached while on that plan
(never a second one, whichever way the plan moved): open while the workspace is
on that plan, resolved while it is on another (a plan change resolves the old
plan's alerts and moving back reopens them; acknowledging leaves them open).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from harness.factories import Factories
from harness.rpc import RpcError, call
from harness.testing import Rpc
from tests.support.usage import ChangePlan

METRIC = "sms"
PLANS = ("free", "pro", "business")


def _limits(conn: psycopg.Connection) -> dict[str, tuple[Decimal, Decimal]]:
    rows = conn.execute(
        "select plan_key, soft_limit, hard_limit from public.plan_limits where metric = %s", (METRIC,)
    ).fetchall()
    return {plan: (soft, hard) for plan, soft, hard in rows}


class UsageThresholds(RuleBasedStateMachine):
    def __init__(self, db: psycopg.Connection, api: psycopg.Connection, factories: Factories) -> None:
        super().__init__()
        self.db, self.api = db, api
        self.limits = _limits(db)
        self.ws = factories.workspace()
        self.plan = "free"
        self.used = Decimal(0)
        self.expected: set[tuple[str, str]] = set()
        self.recorded_events: list[dict[str, Any]] = []

    def _state(self) -> str:
        soft, hard = self.limits[self.plan]
        return "blocked" if self.used >= hard else "warning" if self.used >= soft else "ok"

    def _note_thresholds(self) -> None:
        soft, hard = self.limits[self.plan]
        if self.used >= soft:
            self.expected.add(("usage_warning", self.plan))
        if self.used >= hard:
            self.expected.add(("usage_blocked", self.plan))

    @rule(quantity=st.integers(1, 400))
    def record(self, quantity: int) -> None:
        args = {"workspace_id": str(self.ws.id), "metric": METRIC, "quantity": quantity}
        answer = call(self.api, "record_usage", args).data
        self.used += quantity
        self._note_thresholds()
        assert (Decimal(str(answer["used"])), answer["limit_state"]) == (self.used, self._state())

    @rule(
        quantities=st.lists(st.integers(1, 200), min_size=1, max_size=5),
        repeat=st.booleans(),
        resend=st.booleans(),
    )
    def record_batch(self, quantities: list[int], repeat: bool, resend: bool) -> None:
        first = len(self.recorded_events)
        events: list[dict[str, Any]] = [
            {"workspace_id": str(self.ws.id), "metric": METRIC, "quantity": q, "idempotency_key": f"batch-{first + i}"}
            for i, q in enumerate(quantities)
        ]
        if repeat:  # a key repeated later in the same batch
            events.append(dict(events[0]))
        if resend and self.recorded_events:  # a key recorded by an earlier batch
            events.insert(len(events) // 2, dict(self.recorded_events[-1]))
        answer = call(self.api, "record_usage_batch", {"events": events}).data
        seen = {e["idempotency_key"] for e in self.recorded_events}
        for event, result in zip(events, answer["results"], strict=True):
            duplicate = event["idempotency_key"] in seen
            if not duplicate:
                seen.add(event["idempotency_key"])
                self.recorded_events.append(event)
                self.used += event["quantity"]
                self._note_thresholds()
            assert (result["duplicate"], Decimal(str(result["used"])), result["limit_state"]) == (
                duplicate, self.used, self._state()
            )

    @rule()
    def authorize(self) -> None:
        args = {"workspace_id": str(self.ws.id), "metric": METRIC}
        try:
            answer = call(self.api, "authorize_usage", args).data
        except RpcError as err:
            assert (err.sqlstate, err.message) == ("PT402", "usage_limit_exceeded")
            assert self._state() == "blocked"
        else:
            assert answer["allowed"] is True and self._state() != "blocked"

    @rule(plan=st.sampled_from(PLANS))
    def change_plan(self, plan: str) -> None:
        with self.db.transaction():
            self.db.execute("update public.workspaces set plan_key = %s where id = %s", (plan, self.ws.id))
            self.db.execute("select private.on_plan_change(%s, %s, 'property test')", (self.ws.id, plan))
        self.plan = plan
        self._note_thresholds()

    @rule()
    def acknowledge(self) -> None:
        # On-call acknowledges what is open; the period and plan still had their alert.
        self.db.execute(
            "update public.alerts set acknowledged_at = now() where workspace_id = %s and acknowledged_at is null",
            (self.ws.id,),
        )

    @invariant()
    def matches_the_model(self) -> None:
        row = self.db.execute(
            "select used, limit_state, plan_key from public.usage_limits"
            " where workspace_id = %s and metric = %s and period_start = private.usage_period()",
            (self.ws.id, METRIC),
        ).fetchone()
        if row is not None:
            assert (row[0], row[1], row[2]) == (self.used, self._state(), self.plan)
        alerts = self.db.execute(
            "select type, details ->> 'plan_key', resolved_at is null from public.alerts"
            " where workspace_id = %s and type in ('usage_warning', 'usage_blocked') and details ->> 'metric' = %s",
            (self.ws.id, METRIC),
        ).fetchall()
        expected = [(kind, plan, plan == self.plan) for kind, plan in self.expected]
        assert sorted(alerts) == sorted(expected), (self.used, self.plan)


def test_one_alert_per_threshold_period_and_plan_across_plan_changes(
    db: psycopg.Connection, connect: Any, factories: Factories
) -> None:
    api = connect()

    class OnTheTestDatabase(UsageThresholds):  # hypothesis builds each run's machine without arguments
        def __init__(self) -> None:
            super().__init__(db, api, factories)

    run_state_machine_as_test(OnTheTestDatabase, settings=settings(max_examples=40, stateful_step_count=15))


# The two cases the state machine found, kept as plain tests.


def _usage_alerts(db: psycopg.Connection, ws: Any) -> list[tuple[str, str]]:
    return db.execute(
        "select type, details ->> 'plan_key' from public.alerts where workspace_id = %s order by id", (ws.id,)
    ).fetchall()


def test_a_plan_change_onto_a_threshold_already_reached_raises_that_plans_alert(
    db: psycopg.Connection, rpc: Rpc, factories: Factories, change_plan: ChangePlan
) -> None:
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": METRIC, "quantity": 400})  # free: 40 / 50
    change_plan(ws.id, "pro")  # pro's soft limit is 400: reached on arrival
    assert _usage_alerts(db, ws) == [("usage_warning", "free"), ("usage_blocked", "free"), ("usage_warning", "pro")]


def test_moving_away_and_back_after_an_acknowledgement_raises_no_second_alert(
    db: psycopg.Connection, rpc: Rpc, factories: Factories, change_plan: ChangePlan
) -> None:
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": METRIC, "quantity": 40})  # free's soft limit
    db.execute("update public.alerts set acknowledged_at = now() where workspace_id = %s", (ws.id,))
    change_plan(ws.id, "pro")
    change_plan(ws.id, "free")
    assert _usage_alerts(db, ws) == [("usage_warning", "free")]
