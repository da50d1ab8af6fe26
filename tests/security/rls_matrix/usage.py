"""RLS matrix rows for the usage, billing and wallet tables (format: spec.py).

All of them are written only by definer functions (record_usage, on_plan_change,
deduct_credits, grant_credits, line-item generation) or by migrations: every API
role, service_role included, is denied direct writes. Members of the workspace
and platform staff read the workspace-scoped ones; any signed-in user reads the
catalogues (metrics, plan limits, plan rate limits).
"""

from __future__ import annotations

import datetime
import uuid

from tests.security.rls_matrix.spec import Table, World

WORKSPACE_READ_ONLY = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  ok       ok      ok      hidden   ok      ok
    insert  denied  denied   denied  denied  denied   denied  denied
    update  denied  denied   denied  denied  denied   denied  denied
    delete  denied  denied   denied  denied  denied   denied  denied
"""

CATALOGUE_READ_ONLY = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  ok       ok      ok      ok       ok      ok
    insert  denied  denied   denied  denied  denied   denied  denied
    update  denied  denied   denied  denied  denied   denied  denied
    delete  denied  denied   denied  denied  denied   denied  denied
"""

PERIOD = datetime.date(2026, 1, 1)


def _key() -> str:
    return "mx_" + uuid.uuid4().hex[:10]


def _snapshot(w: World) -> dict:
    return {
        "workspace_id": w.a,
        "period_start": PERIOD,
        "plan_key": "free",
        "currency": "EGP",
        "limits": {"sms": {"soft_limit": 40, "hard_limit": 50, "unit_price_minor": 50}},
        "reason": "period_start",
    }


def _line(w: World) -> dict:
    event = w.row("usage_events")
    return {
        "workspace_id": w.a,
        "period_start": PERIOD,
        "metric": "sms",
        "tier_snapshot_id": event["tier_snapshot_id"],
        "plan_key": "free",
        "quantity": 1,
        "unit_price_minor": 50,
        "amount_minor": 50,
        "currency": "EGP",
        "first_event_id": event["id"],
        "last_event_id": event["id"],
        "event_count": 1,
    }


TABLES = [
    Table(
        "usage_metrics",
        key=("key",),
        seed=lambda w: w.insert("usage_metrics", key=_key(), unit="unit", description="matrix metric"),
        insert=lambda w: {"key": _key(), "unit": "unit", "description": "new metric"},
        update={"description": "renamed"},
        expect=CATALOGUE_READ_ONLY,
    ),
    Table(
        "plan_limits",
        key=("plan_key", "metric"),
        seed=lambda w: w.insert(
            "plan_limits", plan_key=w.row("plans")["key"], metric="sms", soft_limit=1, hard_limit=2, unit_price_minor=1
        ),
        insert=lambda w: {
            "plan_key": w.row("plans")["key"], "metric": "messages", "soft_limit": 1, "hard_limit": 2, "unit_price_minor": 1
        },
        update={"hard_limit": 3},
        expect=CATALOGUE_READ_ONLY,
    ),
    Table(
        "plan_rate_limits",
        key=("plan_key", "bucket"),
        seed=lambda w: w.insert(
            "plan_rate_limits", plan_key=w.row("plans")["key"], bucket="api", max_requests=1, window_seconds=60
        ),
        insert=lambda w: {"plan_key": w.row("plans")["key"], "bucket": "other", "max_requests": 1, "window_seconds": 1},
        update={"max_requests": 1000},
        expect=CATALOGUE_READ_ONLY,
    ),
    Table(
        "tier_snapshots",
        seed=lambda w: w.insert("tier_snapshots", **_snapshot(w)),
        insert=_snapshot,
        update={"plan_key": "business"},
        expect=WORKSPACE_READ_ONLY,
    ),
    Table(
        "usage_limits",
        key=("workspace_id", "metric", "period_start"),
        seed=lambda w: w.insert(
            "usage_limits",
            workspace_id=w.a,
            metric="sms",
            period_start=PERIOD,
            period_end=datetime.date(2026, 2, 1),
            plan_key="free",
            tier_snapshot_id=w.row("tier_snapshots")["id"],
            soft_limit=40,
            hard_limit=50,
            limit_state="ok",
        ),
        insert=lambda w: {
            "workspace_id": w.a,
            "metric": "messages",
            "period_start": PERIOD,
            "period_end": datetime.date(2026, 2, 1),
            "plan_key": "free",
            "tier_snapshot_id": w.row("tier_snapshots")["id"],
            "soft_limit": 1,
            "hard_limit": 1,
            "limit_state": "ok",
        },
        update={"used": 0},
        expect=WORKSPACE_READ_ONLY,
    ),
    Table(
        "usage_events",
        seed=lambda w: w.insert(
            "usage_events",
            workspace_id=w.a,
            metric="sms",
            quantity=1,
            period_start=PERIOD,
            tier_snapshot_id=w.row("tier_snapshots")["id"],
        ),
        insert=lambda w: {
            "workspace_id": w.a,
            "metric": "sms",
            "quantity": 1,
            "period_start": PERIOD,
            "tier_snapshot_id": w.row("tier_snapshots")["id"],
        },
        update={"quantity": 100},
        expect=WORKSPACE_READ_ONLY,
    ),
    Table(
        "billing_line_items",
        seed=lambda w: w.insert("billing_line_items", **_line(w)),
        insert=lambda w: {**_line(w), "metric": "messages"},
        update={"amount_minor": 0},
        expect=WORKSPACE_READ_ONLY,
    ),
    Table(
        "workspace_wallets",
        key=("workspace_id",),
        seed=lambda w: w.insert("workspace_wallets", workspace_id=w.a, balance=10),
        insert=lambda w: {"workspace_id": w.b, "balance": 1000},
        update={"balance": 1000},
        expect=WORKSPACE_READ_ONLY,
    ),
    Table(
        "wallet_ledger",
        seed=lambda w: w.insert(
            "wallet_ledger",
            workspace_id=w.row("workspace_wallets")["workspace_id"],
            kind="grant",
            amount=10,
            balance_after=10,
            reason="matrix seed",
            actor_role="postgres",
        ),
        insert=lambda w: {
            "workspace_id": w.row("workspace_wallets")["workspace_id"],
            "kind": "grant",
            "amount": 1000,
            "balance_after": 1010,
            "reason": "free money",
            "actor_role": "authenticated",
        },
        update={"amount": 1000},
        expect=WORKSPACE_READ_ONLY,
    ),
]
