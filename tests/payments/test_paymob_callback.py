"""handle_paymob_callback: only a genuine successful Paymob transaction upgrades the plan."""

from __future__ import annotations

import pytest

from harness.factories import Factories
from harness.rpc import RpcError
from tests.support.payments import Billing
from tests.support.paymob import paymob_payload, paymob_sign


def test_valid_success_callback_confirms_and_activates(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro", "paymob")
    payload, signature = billing.callback(payment)
    result = billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert result["payment_id"] == payment["payment_id"]
    assert (result["status"], result["duplicate"]) == ("confirmed", False)
    stored = billing.payment(payment["payment_id"])
    assert stored["status"] == "confirmed"
    assert stored["provider_reference"] == str(payload["obj"]["id"])
    assert stored["confirmed_at"] is not None
    assert billing.plan_of(ws) == "pro"
    [sub] = billing.subscriptions(ws)
    assert (sub["plan_key"], sub["status"], sub["payment_id"]) == ("pro", "active", payment["payment_id"])
    assert sub["id"] == result["subscription_id"]
    [audit] = billing.audits("subscription.activated", ws)
    assert audit["target_id"] == sub["id"]


def test_activation_moves_usage_limits_to_the_new_plan(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    billing.rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 5})
    assert billing.limits(ws)["sms"] == billing.plan_limits("free")["sms"]
    payload, signature = billing.callback(billing.request(ws, "pro"))
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert billing.limits(ws) == billing.plan_limits("pro")
    snapshot = billing.db.execute(
        "select plan_key, reason from public.tier_snapshots where workspace_id = %s order by id desc limit 1",
        (ws.id,),
    ).fetchone()
    assert snapshot == ("pro", "plan_change")


def test_forged_hmac_is_refused_with_an_alert_and_changes_nothing(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, _ = billing.callback(payment)
    forged = paymob_sign(payload, "not-the-secret")
    response = billing.rpc.response("handle_paymob_callback", {"payload": payload, "hmac": forged})
    assert response.status == 401
    assert response.data == {"payment_id": None, "status": "rejected", "duplicate": False}
    assert billing.payment(payment["payment_id"])["status"] == "pending"
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []
    [alert] = billing.alerts()
    assert alert["severity"] == "critical"
    assert alert["details"]["merchant_order_id"] == payment["reference"]


def test_valid_signature_over_tampered_amount_is_refused(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment, success=False)
    payload["obj"]["success"] = True
    response = billing.rpc.response("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert (response.status, response.data["status"]) == (401, "rejected")
    assert billing.payment(payment["payment_id"])["status"] == "pending"
    assert billing.plan_of(ws) == "free"


def test_failed_transaction_marks_the_payment_failed(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment, success=False)
    result = billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert result["status"] == "failed"
    stored = billing.payment(payment["payment_id"])
    assert (stored["status"], stored["failure_reason"]) == ("failed", "Do not honour")
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []
    assert [a["severity"] for a in billing.alerts()] == ["info"]


def test_successful_retry_after_a_declined_attempt_confirms(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    declined, sig1 = billing.callback(payment, success=False)
    billing.rpc("handle_paymob_callback", {"payload": declined, "hmac": sig1})
    paid, sig2 = billing.callback(payment)
    result = billing.rpc("handle_paymob_callback", {"payload": paid, "hmac": sig2})
    assert result["status"] == "confirmed"
    assert billing.payment(payment["payment_id"])["provider_reference"] == str(paid["obj"]["id"])
    assert billing.plan_of(ws) == "pro"


def test_pending_transaction_changes_nothing(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment, pending=True)
    result = billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert (result["status"], result["duplicate"]) == ("pending", True)
    assert billing.payment(payment["payment_id"])["provider_reference"] is None
    assert billing.plan_of(ws) == "free"


@pytest.mark.parametrize("flag", ["is_voided", "is_refunded"])
def test_voided_or_refunded_success_does_not_activate(billing: Billing, factories: Factories, flag: str) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment, **{flag: True})
    result = billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert result["status"] == "failed"
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []


@pytest.mark.parametrize("change", [{"amount_cents": 100}, {"currency": "USD"}])
def test_amount_or_currency_mismatch_is_rejected_alerted_and_unchanged(
    billing: Billing, factories: Factories, change: dict
) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment, **change)
    result = billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert result["status"] == "rejected"
    assert billing.payment(payment["payment_id"])["status"] == "rejected"
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []
    assert billing.audits("subscription.activated", ws) == []
    [alert] = billing.alerts()
    assert alert["severity"] == "critical"
    assert alert["workspace_id"] == str(ws.id)
    assert alert["details"]["requested_amount"] == payment["amount"]
    # A correctly priced callback afterwards cannot revive a rejected payment.
    good, good_sig = billing.callback(payment)
    again = billing.rpc("handle_paymob_callback", {"payload": good, "hmac": good_sig})
    assert (again["status"], again["duplicate"]) == ("rejected", True)
    assert billing.plan_of(ws) == "free"


def test_refund_of_a_confirmed_payment_is_recorded_and_alerted(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    paid, sig = billing.callback(payment)
    billing.rpc("handle_paymob_callback", {"payload": paid, "hmac": sig})
    refund, refund_sig = billing.callback(payment, is_refunded=True, txn_id=paid["obj"]["id"])
    result = billing.rpc("handle_paymob_callback", {"payload": refund, "hmac": refund_sig})
    assert result["status"] == "refunded"
    assert [a["type"] for a in billing.alerts("payment_refunded")] == ["payment_refunded"]


def test_second_successful_transaction_for_a_paid_order_is_alerted_not_activated(
    billing: Billing, factories: Factories
) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    first, sig1 = billing.callback(payment)
    billing.rpc("handle_paymob_callback", {"payload": first, "hmac": sig1})
    second, sig2 = billing.callback(payment)
    result = billing.rpc("handle_paymob_callback", {"payload": second, "hmac": sig2})
    assert (result["status"], result["duplicate"]) == ("confirmed", True)
    assert len(billing.audits("subscription.activated", ws)) == 1
    assert [a["details"]["transaction_id"] for a in billing.alerts()] == [str(second["obj"]["id"])]


def test_unknown_reference_is_not_found(billing: Billing) -> None:
    payload = paymob_payload("OPS-NOSUCHREF", 150000)
    with pytest.raises(RpcError) as err:
        billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": paymob_sign(payload, billing.secret)})
    assert (err.value.sqlstate, err.value.message) == ("PT404", "payment_not_found")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(type="TOKEN"),
        lambda p: p["obj"]["order"].pop("merchant_order_id"),
        lambda p: p["obj"].update(success="yes"),
    ],
    ids=["token_callback", "no_merchant_order_id", "success_not_boolean"],
)
def test_malformed_payload_is_a_bad_argument(billing: Billing, factories: Factories, mutate) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, _ = billing.callback(payment)
    mutate(payload)
    with pytest.raises(RpcError) as err:
        billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": paymob_sign(payload, billing.secret)})
    assert (err.value.sqlstate, err.value.message) == ("22023", "malformed_payload")
    assert billing.payment(payment["payment_id"])["status"] == "pending"


def test_only_service_role_may_handle_callbacks(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment)
    admin = factories.platform_admin()
    for caller in (ws.owner.jwt, admin.jwt, "anon"):
        with pytest.raises(RpcError) as err:
            billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature}, as_=caller)
        assert err.value.sqlstate == "42501"
    assert billing.payment(payment["payment_id"])["status"] == "pending"
    assert billing.plan_of(ws) == "free"


def test_paying_again_for_the_plan_in_force_extends_the_period(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    first, sig1 = billing.callback(billing.request(ws, "pro"))
    billing.rpc("handle_paymob_callback", {"payload": first, "hmac": sig1})
    [before] = billing.subscriptions(ws)
    renewal = billing.request(ws, "pro")
    second, sig2 = billing.callback(renewal)
    billing.rpc("handle_paymob_callback", {"payload": second, "hmac": sig2})
    [after] = billing.subscriptions(ws)
    assert after["id"] == before["id"]
    assert after["payment_id"] == renewal["payment_id"]
    assert after["current_period_start"] == before["current_period_start"]
    extended = billing.db.execute(
        "select %s::timestamptz + interval '1 month' = %s::timestamptz",
        (before["current_period_end"], after["current_period_end"]),
    ).fetchone()
    assert extended == (True,)
    assert len(billing.audits("subscription.activated", ws)) == 2


def test_upgrading_to_another_plan_switches_the_live_subscription(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    pro, sig1 = billing.callback(billing.request(ws, "pro"))
    billing.rpc("handle_paymob_callback", {"payload": pro, "hmac": sig1})
    business, sig2 = billing.callback(billing.request(ws, "business"))
    billing.rpc("handle_paymob_callback", {"payload": business, "hmac": sig2})
    [sub] = billing.subscriptions(ws)
    assert (sub["plan_key"], sub["status"]) == ("business", "active")
    assert billing.plan_of(ws) == "business"
    assert billing.limits(ws) == billing.plan_limits("business")
