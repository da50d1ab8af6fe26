"""private.on_plan_change: snapshot the new plan and move the period's limits to it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from harness.factories import Factories
from harness.rows import scalar
from harness.testing import Rpc
from tests.support.usage import ChangePlan, UsageReader


def test_free_and_paid_plans_have_different_limits_and_prices(db: psycopg.Connection) -> None:
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


def test_plan_change_snapshots_and_moves_current_limits(
    rpc: Rpc, factories: Factories, usage: UsageReader, change_plan: ChangePlan
) -> None:
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


def test_plan_change_before_any_usage_creates_the_period_rows(
    factories: Factories, usage: UsageReader, change_plan: ChangePlan
) -> None:
    ws = factories.workspace()
    change_plan(ws.id, "business")
    assert usage.limits(ws.id, "messages")["hard_limit"] == 50000
    assert [(plan, reason) for _, plan, reason in usage.snapshots(ws.id)] == [("business", "plan_change")]


def test_downgrade_over_the_new_limit_blocks_and_alerts_once(
    rpc: Rpc, factories: Factories, usage: UsageReader, change_plan: ChangePlan
) -> None:
    ws = factories.workspace(plan_key="pro")
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 120})
    assert usage.alerts(ws.id, "usage_blocked") == []

    change_plan(ws.id, "free", "downgrade")

    assert usage.limits(ws.id, "sms")["limit_state"] == "blocked"
    assert len(usage.alerts(ws.id, "usage_warning")) == 1
    assert len(usage.alerts(ws.id, "usage_blocked")) == 1
    change_plan(ws.id, "free", "same plan again")
    assert len(usage.alerts(ws.id, "usage_blocked")) == 1


def test_after_an_upgrade_reaching_the_new_plans_limits_raises_their_own_alerts(
    rpc: Rpc, factories: Factories, usage: UsageReader, change_plan: ChangePlan
) -> None:
    ws = factories.workspace()  # free: sms soft 40, hard 50
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 50})
    assert (len(usage.alerts(ws.id, "usage_warning")), len(usage.alerts(ws.id, "usage_blocked"))) == (1, 1)

    change_plan(ws.id, "pro")  # soft 400, hard 500: the usage is back under both
    upgraded = usage.limits(ws.id, "sms")
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 360})  # 410: over pro's soft
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 100})  # 510: over pro's hard

    warnings, blocks = usage.alerts(ws.id, "usage_warning"), usage.alerts(ws.id, "usage_blocked")
    assert len(warnings) == 2 and len(blocks) == 2
    assert [details["hard_limit"] for _, _, details in blocks] == [50, 500]
    assert blocks[-1][1].endswith(":pro")
    # ... and still once each: more usage over the new limit raises nothing more.
    change_plan(ws.id, "pro", "the same plan again")
    assert len(usage.alerts(ws.id, "usage_blocked")) == 2
    assert upgraded["plan_key"] == "pro"


def test_an_upgrade_resolves_the_old_plans_alert_and_a_downgrade_reopens_that_one(
    rpc: Rpc, factories: Factories, db: psycopg.Connection, change_plan: ChangePlan
) -> None:
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 45})  # over free's soft 40

    def warnings() -> list[tuple[str, bool, Any, str | None, Any]]:
        return db.execute(
            "select dedupe_key, resolved_at is not null, resolved_by, resolution, details -> 'reopened'"
            " from public.alerts where workspace_id = %s and type = 'usage_warning' order by id",
            (ws.id,),
        ).fetchall()

    change_plan(ws.id, "pro")
    [(key, resolved, by, resolution, _)] = warnings()
    assert (key.rsplit(":", 1)[1], resolved, by) == ("free", True, None)
    assert resolution is not None and resolution.startswith("auto: plan changed to pro")

    for plan in ("free", "pro", "free"):
        change_plan(ws.id, plan)
    # One alert per threshold, period and plan: back on free with the threshold
    # still reached, free's alert is open again, its resolutions kept as history.
    [(key, resolved, by, resolution, reopened)] = warnings()
    assert (key.rsplit(":", 1)[1], resolved, by, resolution) == ("free", False, None, None)
    assert [r["resolution"].startswith("auto: plan changed to pro") for r in reopened] == [True, True]


def test_plan_change_for_unknown_workspace_or_plan_is_not_found(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    with pytest.raises(psycopg.Error) as unknown_ws:
        db.execute("select private.on_plan_change(gen_random_uuid(), 'pro', 'x')")
    with pytest.raises(psycopg.Error) as unknown_plan:
        db.execute("select private.on_plan_change(%s, 'platinum', 'x')", (ws.id,))
    assert (unknown_ws.value.sqlstate, unknown_ws.value.diag.message_primary) == ("PT404", "workspace_not_found")
    assert (unknown_plan.value.sqlstate, unknown_plan.value.diag.message_primary) == ("PT404", "plan_not_found")
    assert scalar(db, "select count(*) from public.tier_snapshots") == 0


def test_api_roles_cannot_call_on_plan_change(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    for role in ("service_role", "authenticated", "anon"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
            db.execute(f"set local role {role}")
            db.execute("select private.on_plan_change(%s, 'pro', 'x')", (ws.id,))
