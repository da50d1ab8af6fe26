"""create_payment_request: owners/admins get a pending payment at the plan price; it never upgrades."""

from __future__ import annotations

import pytest

from harness.factories import Factories
from harness.rpc import RpcError
from tests.support.payments import Billing


def _payment_count(billing: Billing) -> int:
    row = billing.db.execute("select count(*) from public.payments").fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owner_or_admin_gets_a_pending_payment_at_the_plan_price(
    billing: Billing, factories: Factories, role: str
) -> None:
    ws = factories.workspace()
    caller = ws.owner if role == "owner" else factories.member(ws, "admin")
    result = billing.request(ws, "pro", "instapay", as_=caller)
    price = billing.db.execute("select price_minor, currency from public.plans where key = 'pro'").fetchone()
    assert price is not None
    assert result["status"] == "pending"
    assert (result["amount"], result["currency"]) == (price[0], price[1])
    assert result["reference"].startswith("OPS-")
    stored = billing.payment(result["payment_id"])
    assert stored["workspace_id"] == str(ws.id)
    assert stored["provider"] == "instapay"
    assert stored["requested_by"] == str(caller.id)
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []


def test_each_request_gets_its_own_reference(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    refs = {billing.request(ws)["reference"] for _ in range(20)}
    assert len(refs) == 20


def test_member_cannot_request_a_payment(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    member = factories.member(ws, "member")
    with pytest.raises(RpcError) as err:
        billing.request(ws, as_=member)
    assert err.value.sqlstate == "42501"
    assert _payment_count(billing) == 0


def test_owner_of_another_workspace_cannot_request_for_this_one(billing: Billing, factories: Factories) -> None:
    ws, other = factories.workspace(), factories.workspace()
    with pytest.raises(RpcError) as err:
        billing.request(ws, as_=other.owner)
    assert err.value.sqlstate == "42501"
    assert _payment_count(billing) == 0


@pytest.mark.parametrize("role", ["anon", "service_role"])
def test_api_roles_without_a_user_cannot_call_it(billing: Billing, factories: Factories, role: str) -> None:
    ws = factories.workspace()
    with pytest.raises(RpcError) as err:
        billing.rpc(
            "create_payment_request",
            {"workspace_id": str(ws.id), "plan_key": "pro", "provider": "paymob"},
            as_=role,
        )
    assert err.value.sqlstate == "42501"
    assert _payment_count(billing) == 0


@pytest.mark.parametrize(
    "plan_key, provider, sqlstate, message",
    [
        ("pro", "stripe", "22023", "unknown_provider"),
        ("free", "paymob", "22023", "plan_not_payable"),
        ("platinum", "paymob", "PT404", "plan_not_found"),
    ],
)
def test_bad_arguments_are_refused(
    billing: Billing, factories: Factories, plan_key: str, provider: str, sqlstate: str, message: str
) -> None:
    ws = factories.workspace()
    with pytest.raises(RpcError) as err:
        billing.request(ws, plan_key, provider)
    assert (err.value.sqlstate, err.value.message) == (sqlstate, message)
    assert _payment_count(billing) == 0


def test_inactive_plan_is_not_payable(billing: Billing, factories: Factories) -> None:
    billing.db.execute("update public.plans set is_active = false where key = 'business'")
    ws = factories.workspace()
    with pytest.raises(RpcError) as err:
        billing.request(ws, "business")
    assert (err.value.sqlstate, err.value.message) == ("22023", "plan_not_payable")


def test_request_is_audited(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    result = billing.request(ws)
    rows = billing.audits("payment.requested", ws)
    assert [r["target_id"] for r in rows] == [result["payment_id"]]
    assert rows[0]["actor_id"] == str(ws.owner.id)
