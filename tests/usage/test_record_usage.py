"""record_usage: exact totals, one alert per threshold per period, idempotent, records usage past the hard limit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, Workspace
from harness.race import race_each
from harness.rows import scalar
from harness.rpc import RpcError, call
from harness.testing import Connect, Rpc
from tests.support.usage import UsageReader


def _record(rpc: Rpc, ws: Workspace, metric: str = "sms", quantity: Any = 1, key: str | None = None) -> Any:
    return rpc(
        "record_usage",
        {"workspace_id": str(ws.id), "metric": metric, "quantity": quantity, "idempotency_key": key, "source": "test"},
    )


def test_record_usage_adds_to_the_period_total_and_reports_the_tier(
    rpc: Rpc, factories: Factories, usage: UsageReader
) -> None:
    ws = factories.workspace()

    first = _record(rpc, ws, "call_minutes", 2.5)
    second = _record(rpc, ws, "call_minutes", 1.25)

    assert first["limit_state"] == "ok" and first["duplicate"] is False
    assert {k: second[k] for k in ("used", "soft_limit", "hard_limit", "limit_state")} == {
        "used": 3.75,
        "soft_limit": 80,
        "hard_limit": 100,
        "limit_state": "ok",
    }
    assert usage.event_total(ws.id, "call_minutes") == Decimal("3.75")
    assert usage.limits(ws.id, "call_minutes")["used"] == Decimal("3.75")


def test_soft_then_hard_limit_raise_one_alert_each_and_usage_past_the_hard_limit_is_still_recorded(
    rpc: Rpc, factories: Factories, usage: UsageReader
) -> None:
    ws = factories.workspace()  # free: sms soft 40, hard 50

    assert _record(rpc, ws, quantity=39)["limit_state"] == "ok"
    assert _record(rpc, ws, quantity=1)["limit_state"] == "warning"
    assert _record(rpc, ws, quantity=5)["limit_state"] == "warning"
    crossing = _record(rpc, ws, quantity=7)
    assert (crossing["limit_state"], crossing["used"]) == ("blocked", 52)
    # usage that happened is recorded and billed past the hard limit too
    after = _record(rpc, ws, quantity=3)

    assert (after["limit_state"], after["used"], after["duplicate"]) == ("blocked", 55, False)
    assert usage.limits(ws.id, "sms")["used"] == 55
    assert usage.event_total(ws.id, "sms") == 55
    warnings, blocks = usage.alerts(ws.id, "usage_warning"), usage.alerts(ws.id, "usage_blocked")
    assert len(warnings) == 1 and len(blocks) == 1
    assert warnings[0][2]["metric"] == "sms"
    # other metrics are independent
    assert _record(rpc, ws, "messages", 3)["limit_state"] == "ok"


def test_an_acknowledged_usage_alert_is_not_raised_again_in_the_same_period(
    rpc: Rpc, factories: Factories, usage: UsageReader, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    _record(rpc, ws, quantity=41)
    db.execute("update public.alerts set acknowledged_at = now() where workspace_id = %s", (ws.id,))

    _record(rpc, ws, quantity=1)
    _record(rpc, ws, quantity=1)

    assert len(usage.alerts(ws.id, "usage_warning")) == 1


def test_many_connections_crossing_both_limits_at_once_keep_exact_totals_and_one_alert_each(
    factories: Factories, usage: UsageReader, connect: Connect
) -> None:
    ws = factories.workspace()  # free: messages soft 800, hard 1000
    threads_n, per_thread = 16, 40  # 640 records of 2 = 1280, past the hard limit
    conns = [connect() for _ in range(threads_n)]

    def worker(conn: psycopg.Connection) -> list[tuple[str, Any]]:
        outcomes: list[tuple[str, Any]] = []
        for _ in range(per_thread):
            try:
                result = call(conn, "record_usage", {"workspace_id": str(ws.id), "metric": "messages", "quantity": 2})
                outcomes.append(("ok", result.data))
            except RpcError as err:
                outcomes.append(("error", err))
        return outcomes

    outcomes = race_each(conns, worker)

    flat = [o for per in outcomes for o in per]
    assert len(flat) == threads_n * per_thread
    assert all(kind == "ok" for kind, _ in flat), [v for kind, v in flat if kind != "ok"][:3]
    recorded = [v for _, v in flat]
    # serialised on the period row: every call saw its own total, 2, 4, ..., 1280
    assert sorted(v["used"] for v in recorded) == list(range(2, 1281, 2))
    assert all(
        v["limit_state"] == ("blocked" if v["used"] >= 1000 else "warning" if v["used"] >= 800 else "ok")
        for v in recorded
    )
    assert usage.limits(ws.id, "messages")["used"] == 1280
    assert usage.event_total(ws.id, "messages") == 1280
    assert usage.event_count(ws.id) == 640
    assert len(usage.alerts(ws.id, "usage_warning")) == 1
    assert len(usage.alerts(ws.id, "usage_blocked")) == 1


def test_a_retried_record_counts_once(rpc: Rpc, factories: Factories, usage: UsageReader) -> None:
    ws = factories.workspace()
    first = _record(rpc, ws, "call_minutes", 3, key="call:CA1")
    again = _record(rpc, ws, "call_minutes", 3, key="call:CA1")

    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["used"] == 3
    assert usage.event_count(ws.id) == 1
    assert usage.limits(ws.id, "call_minutes")["used"] == 3


def test_the_same_usage_key_sent_concurrently_counts_once(
    factories: Factories, usage: UsageReader, connect: Connect
) -> None:
    ws = factories.workspace()
    conns = [connect() for _ in range(10)]
    args = {"workspace_id": str(ws.id), "metric": "call_minutes", "quantity": 4, "idempotency_key": "call:CA9"}

    def worker(conn: psycopg.Connection) -> dict:
        return call(conn, "record_usage", args).data

    answers = race_each(conns, worker, timeout=60)

    assert len(answers) == 10
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 9
    assert usage.limits(ws.id, "call_minutes")["used"] == 4
    assert usage.event_count(ws.id) == 1


def test_a_retry_after_the_block_is_still_a_duplicate(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace()
    _record(rpc, ws, quantity=50, key="batch-1")
    assert _record(rpc, ws, quantity=50, key="batch-1")["duplicate"] is True


def test_a_usage_key_reused_for_other_usage_is_a_conflict(rpc: Rpc, factories: Factories, usage: UsageReader) -> None:
    ws = factories.workspace()
    _record(rpc, ws, "sms", 1, key="k")
    for metric, quantity in (("sms", 2), ("messages", 1)):
        with pytest.raises(RpcError) as caught:
            _record(rpc, ws, metric, quantity, key="k")
        assert (caught.value.sqlstate, caught.value.message) == ("PT409", "idempotency_conflict")
    assert usage.event_count(ws.id) == 1
    assert usage.limits(ws.id, "sms")["used"] == 1


@pytest.mark.parametrize(
    ("metric", "quantity", "sqlstate", "message"),
    [
        ("sms", 0, "22023", "invalid_quantity"),
        ("sms", -3, "22023", "invalid_quantity"),
        ("sms", "NaN", "22023", "invalid_quantity"),
        ("sms", "Infinity", "22023", "invalid_quantity"),
        ("sms", "1e300", "22023", "invalid_quantity"),
        ("sms", None, "22023", "invalid_quantity"),
        ("minutes_of_fun", 1, "22023", "unknown_metric"),
        (None, 1, "22023", "unknown_metric"),
    ],
)
def test_bad_usage_input_fails_and_writes_nothing(
    rpc: Rpc, factories: Factories, db: psycopg.Connection, metric: str | None, quantity: Any, sqlstate: str, message: str
) -> None:
    ws = factories.workspace()
    with pytest.raises(RpcError) as caught:
        rpc("record_usage", {"workspace_id": str(ws.id), "metric": metric, "quantity": quantity})
    assert (caught.value.sqlstate, caught.value.status, caught.value.message) == (sqlstate, 400, message)
    for table in ("usage_events", "usage_limits", "tier_snapshots"):
        assert scalar(db, f"select count(*) from public.{table}") == 0


def test_usage_for_an_unknown_workspace_is_not_found(rpc: Rpc, db: psycopg.Connection) -> None:
    with pytest.raises(RpcError) as caught:
        rpc("record_usage", {"workspace_id": "00000000-0000-4000-8000-000000000000", "metric": "sms", "quantity": 1})
    assert (caught.value.sqlstate, caught.value.status, caught.value.message) == ("PT404", 404, "workspace_not_found")
    assert scalar(db, "select count(*) from public.usage_events") == 0


def test_only_service_role_may_record_usage(rpc: Rpc, factories: Factories, db: psycopg.Connection) -> None:
    ws = factories.workspace()
    for caller in (ws.owner.jwt, factories.platform_admin().jwt, "anon"):
        with pytest.raises(RpcError) as caught:
            rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1}, as_=caller)
        assert caught.value.sqlstate == "42501"
    assert scalar(db, "select count(*) from public.usage_events") == 0


def test_usage_events_are_append_only(
    rpc: Rpc, factories: Factories, db: psycopg.Connection, usage: UsageReader
) -> None:
    ws = factories.workspace()
    _record(rpc, ws, quantity=2)
    for statement in (
        "update public.usage_events set quantity = 1",
        "delete from public.usage_events",
        "truncate public.usage_events cascade",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(statement)
    assert usage.event_total(ws.id, "sms") == 2


def test_evaluate_usage_thresholds_reports_every_metric_to_members_only(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace()
    member = factories.member(ws)
    before = rpc("evaluate_usage_thresholds", {"workspace_id": str(ws.id)}, as_=member.jwt)
    assert {m["metric"]: m["used"] for m in before["metrics"]} == {
        "call_minutes": 0, "llm_tokens": 0, "messages": 0, "sms": 0
    }
    _record(rpc, ws, quantity=45)

    report = rpc("evaluate_usage_thresholds", {"workspace_id": str(ws.id)})

    assert report["workspace_id"] == str(ws.id)
    sms = next(m for m in report["metrics"] if m["metric"] == "sms")
    assert sms == {"metric": "sms", "used": 45, "soft_limit": 40, "hard_limit": 50, "limit_state": "warning", "plan_key": "free"}
    for outsider in (factories.user().jwt, "anon"):
        with pytest.raises(RpcError) as caught:
            rpc("evaluate_usage_thresholds", {"workspace_id": str(ws.id)}, as_=outsider)
        assert caught.value.sqlstate == "42501"
    with pytest.raises(RpcError) as missing:
        rpc("evaluate_usage_thresholds", {"workspace_id": "00000000-0000-4000-8000-000000000000"})
    assert missing.value.sqlstate == "PT404"


def test_members_read_their_usage_but_not_other_workspaces(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    mine, theirs = factories.workspace(), factories.workspace()
    _record(rpc, mine, quantity=1)
    _record(rpc, theirs, quantity=1)
    with db.transaction():
        db.execute("select set_config('request.jwt.claims', %s, true)", (f'{{"role":"authenticated","sub":"{mine.owner.id}"}}',))
        db.execute("set local role authenticated")
        events = db.execute("select distinct workspace_id from public.usage_events").fetchall()
        limits = db.execute("select distinct workspace_id from public.usage_limits").fetchall()
    assert events == [(mine.id,)] and limits == [(mine.id,)]
