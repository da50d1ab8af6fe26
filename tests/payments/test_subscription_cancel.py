"""The incident playbook's kill switch, run exactly as written, drops the workspace to free and is audited."""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories, Workspace
from tests.support.payments import Billing

PLAYBOOK_SQL = "UPDATE public.subscriptions SET status = 'canceled' WHERE workspace_id = '{}';"


def _paid(billing: Billing, factories: Factories, plan_key: str = "pro") -> Workspace:
    ws = factories.workspace()
    payload, signature = billing.callback(billing.request(ws, plan_key))
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert billing.plan_of(ws) == plan_key
    return ws


def test_playbook_cancel_drops_the_workspace_to_free_limits(billing: Billing, factories: Factories) -> None:
    ws = _paid(billing, factories, "business")
    assert billing.limits(ws) == billing.plan_limits("business")
    billing.db.execute(PLAYBOOK_SQL.format(ws.id))
    assert billing.plan_of(ws) == "free"
    assert billing.limits(ws) == billing.plan_limits("free")
    [sub] = billing.subscriptions(ws)
    assert sub["status"] == "canceled" and sub["canceled_at"] is not None


def test_playbook_cancel_is_audited_exactly_once(billing: Billing, factories: Factories) -> None:
    ws = _paid(billing, factories)
    sub_id = billing.subscriptions(ws)[0]["id"]
    billing.db.execute(PLAYBOOK_SQL.format(ws.id))
    billing.db.execute(PLAYBOOK_SQL.format(ws.id))  # re-running the playbook changes nothing more
    [audit] = billing.audits("subscription.canceled", ws)
    assert audit["target_id"] == sub_id
    assert audit["before"]["workspace_plan_key"] == "pro"
    assert audit["after"]["workspace_plan_key"] == "free"


def test_cancel_leaves_other_workspaces_alone(billing: Billing, factories: Factories) -> None:
    ws, other = _paid(billing, factories), _paid(billing, factories)
    billing.db.execute(PLAYBOOK_SQL.format(ws.id))
    assert billing.plan_of(other) == "pro"
    assert billing.limits(other) == billing.plan_limits("pro")
    assert billing.audits("subscription.canceled", other) == []


def test_canceled_subscription_cannot_be_revived_by_sql(billing: Billing, factories: Factories) -> None:
    ws = _paid(billing, factories)
    billing.db.execute(PLAYBOOK_SQL.format(ws.id))
    with pytest.raises(psycopg.Error) as err:
        billing.db.execute("update public.subscriptions set status = 'active' where workspace_id = %s", (ws.id,))
    assert err.value.sqlstate == "55000"
    assert billing.plan_of(ws) == "free"


def test_a_new_payment_after_cancel_activates_a_new_subscription(billing: Billing, factories: Factories) -> None:
    ws = _paid(billing, factories)
    billing.db.execute(PLAYBOOK_SQL.format(ws.id))
    payload, signature = billing.callback(billing.request(ws, "pro"))
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    subs = billing.subscriptions(ws)
    assert [s["status"] for s in subs] == ["canceled", "active"]
    assert billing.plan_of(ws) == "pro"
