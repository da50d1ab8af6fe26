"""private.on_plan_change: snapshot the new plan and move the period's limits to it."""

from __future__ import annotations

from decimal import Decimal

import pytest
import psycopg


def test_free_and_paid_plans_have_different_limits_and_prices(db) -> None:  # type: ignore[no-untyped-def]
    rows = db.execute(
        "select plan_key, metric, soft_limit, hard_limit, unit_price_minor from public.plan_limits"
    ).fetchall()
    by_plan: dict[str, dict[str, tuple[Decimal, Decimal, Decimal]]] = {}
    for plan, metric, soft, hard, price in rows:
        by_plan.setdefault(plan, {})[metric] = (soft, hard, price)
    for plan in ("free", "pro", "business"):
        assert set(by_plan[plan]) >= {"call_minutes", "sms", "messages", "llm_tokens"}
    for metric in ("call_minutes", "sms", "messages", "llm_tokens"):
        assert by_plan["free"][metric][1] < by_plan["pro"][metric][1] < by_plan["business"][metric][1]
        assert by_plan["free"][metric][0] < by_plan["free"][metric][1]


def test_plan_change_snapshots_and_moves_current_limits(rpc, factories, usage, change_plan) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 45})
    assert usage.limits(ws.id, "sms")["limit_state"] == "warning"

    change_plan(ws.id, "pro")

    after = usage.limits(ws.id, "sms")
    assert (after["plan_key"], after["soft_limit"], after["hard_limit"], after["used"]) == ("pro", 400, 500, 45)
    assert after["limit_state"] == "ok"
    assert [(plan, reason) for _, plan, reason in usage.snapshots(ws.id)] == [
        ("free", "period_start"),
        ("pro", "plan_change"),
    ]
    assert after["tier_snapshot_id"] == usage.snapshots(ws.id)[-1][0]
    # every metric of the period is on the new terms, not only the one used so far
    assert usage.limits(ws.id, "call_minutes")["hard_limit"] == 1000


def test_plan_change_before_any_usage_creates_the_period_rows(factories, usage, change_plan) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    change_plan(ws.id, "business")
    assert usage.limits(ws.id, "messages")["hard_limit"] == 50000
    assert [(plan, reason) for _, plan, reason in usage.snapshots(ws.id)] == [("business", "plan_change")]


def test_downgrade_over_the_new_limit_blocks_and_alerts_once(rpc, factories, usage, change_plan) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace(plan_key="pro")
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 120})
    assert usage.alerts(ws.id, "usage_blocked") == []

    change_plan(ws.id, "free", "downgrade")

    assert usage.limits(ws.id, "sms")["limit_state"] == "blocked"
    assert len(usage.alerts(ws.id, "usage_warning")) == 1
    assert len(usage.alerts(ws.id, "usage_blocked")) == 1
    change_plan(ws.id, "free", "same plan again")
    assert len(usage.alerts(ws.id, "usage_blocked")) == 1


def test_plan_change_for_unknown_workspace_or_plan_is_not_found(db, factories) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    with pytest.raises(psycopg.Error) as unknown_ws:
        db.execute("select private.on_plan_change(gen_random_uuid(), 'pro', 'x')")
    with pytest.raises(psycopg.Error) as unknown_plan:
        db.execute("select private.on_plan_change(%s, 'platinum', 'x')", (ws.id,))
    assert (unknown_ws.value.sqlstate, unknown_ws.value.diag.message_primary) == ("PT404", "workspace_not_found")
    assert (unknown_plan.value.sqlstate, unknown_plan.value.diag.message_primary) == ("PT404", "plan_not_found")
    assert db.execute("select count(*) from public.tier_snapshots").fetchone()[0] == 0


def test_api_roles_cannot_call_on_plan_change(db, factories) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    for role in ("service_role", "authenticated", "anon"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
            db.execute(f"set local role {role}")
            db.execute("select private.on_plan_change(%s, 'pro', 'x')", (ws.id,))
