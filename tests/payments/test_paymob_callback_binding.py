"""A signed Paymob transaction settles at most one payment: the one of its own Paymob order.

Paymob's HMAC covers obj.id (the transaction) and obj.order.id, but not
obj.order.merchant_order_id, which names the payment. So a validly signed
callback whose merchant_order_id was changed must not confirm, fail or refund
any other payment: it is refused with a critical alert and changes nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from harness.factories import Factories
from tests.support.payments import Billing


def _retarget(payload: dict[str, Any], reference: str) -> dict[str, Any]:
    """The same signed body with another merchant_order_id (the HMAC still verifies)."""
    obj = {**payload["obj"], "order": {**payload["obj"]["order"], "merchant_order_id": reference}}
    return {**payload, "obj": obj}


def _refusals(billing: Billing) -> list[dict[str, Any]]:
    return [a for a in billing.alerts() if a["dedupe_key"].startswith("payment_failure:paymob_refused:")]


def test_paymob_callback_retargeted_to_an_instapay_request_confirms_nothing(
    billing: Billing, factories: Factories
) -> None:
    payer, victim = factories.workspace(), factories.workspace()
    paid = billing.request(payer, "pro", "paymob")
    instapay = billing.request(victim, "pro", "instapay")
    assert paid["amount"] == instapay["amount"]
    payload, signature = billing.callback(paid)
    assert billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})["status"] == "confirmed"

    response = billing.rpc.response(
        "handle_paymob_callback", {"payload": _retarget(payload, instapay["reference"]), "hmac": signature}
    )
    assert response.status == 409
    assert response.data["payment_id"] is None and response.data["status"] == "rejected"
    assert response.data["refused"] == "provider_mismatch"
    stored = billing.payment(instapay["payment_id"])
    assert (stored["status"], stored["provider_reference"]) == ("pending", None)
    assert billing.plan_of(victim) == "free"
    assert billing.subscriptions(victim) == []
    [alert] = _refusals(billing)
    assert alert["severity"] == "critical"
    assert alert["details"]["payment_id"] == instapay["payment_id"]
    assert alert["details"]["transaction_id"] == str(payload["obj"]["id"])


def test_one_paymob_transaction_cannot_confirm_a_second_paymob_payment(billing: Billing, factories: Factories) -> None:
    payer, other = factories.workspace(), factories.workspace()
    paid, unpaid = billing.request(payer, "pro"), billing.request(other, "pro")
    payload, signature = billing.callback(paid)
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})

    retargeted = _retarget(payload, unpaid["reference"])
    result = billing.rpc("handle_paymob_callback", {"payload": retargeted, "hmac": signature})
    assert (result["payment_id"], result["status"], result["refused"]) == (None, "rejected", "order_in_use")
    assert billing.payment(unpaid["payment_id"])["status"] == "pending"
    assert billing.plan_of(other) == "free"
    assert billing.subscriptions(other) == []
    assert len(_refusals(billing)) == 1
    assert billing.payment(paid["payment_id"])["status"] == "confirmed"


def test_retargeted_callback_arriving_first_leaves_the_genuine_one_refused(
    billing: Billing, factories: Factories
) -> None:
    """Whichever payment a transaction reaches first, it confirms that one only."""
    payer, other = factories.workspace(), factories.workspace()
    paid, unpaid = billing.request(payer, "pro"), billing.request(other, "pro")
    payload, signature = billing.callback(paid)
    billing.rpc("handle_paymob_callback", {"payload": _retarget(payload, unpaid["reference"]), "hmac": signature})
    result = billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert result["refused"] == "order_in_use"
    assert billing.payment(paid["payment_id"])["status"] == "pending"
    assert len(billing.audits("subscription.activated", payer) + billing.audits("subscription.activated", other)) == 1


def test_callback_of_another_paymob_order_is_refused_once_the_payment_is_bound(
    billing: Billing, factories: Factories
) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro")
    declined, signature = billing.callback(payment, success=False)
    billing.rpc("handle_paymob_callback", {"payload": declined, "hmac": signature})
    assert billing.payment(payment["payment_id"])["paymob_order_id"] == str(declined["obj"]["order"]["id"])

    foreign, foreign_signature = billing.callback(payment, order_id=999000111)
    result = billing.rpc("handle_paymob_callback", {"payload": foreign, "hmac": foreign_signature})
    assert result["refused"] == "order_mismatch"
    assert billing.payment(payment["payment_id"])["status"] == "failed"
    assert billing.plan_of(ws) == "free"

    retry, retry_signature = billing.callback(payment)  # a retry within the payment's own order
    assert billing.rpc("handle_paymob_callback", {"payload": retry, "hmac": retry_signature})["status"] == "confirmed"


def test_same_transaction_id_cannot_settle_two_payments_whatever_their_provider(
    billing: Billing, factories: Factories
) -> None:
    ws = factories.workspace()
    paymob, instapay = billing.request(ws, "pro", "paymob"), billing.request(ws, "pro", "instapay")
    settle = "update public.payments set provider_reference = '192036465' where id = %s"
    billing.db.execute(settle, (paymob["payment_id"],))
    with pytest.raises(psycopg.errors.UniqueViolation):
        billing.db.execute(settle, (instapay["payment_id"],))


def test_refund_of_a_second_charge_leaves_the_confirmed_payment_alone(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro")
    first, s1 = billing.callback(payment)
    billing.rpc("handle_paymob_callback", {"payload": first, "hmac": s1})
    second, s2 = billing.callback(payment)  # the same order paid twice: support is told to refund it
    billing.rpc("handle_paymob_callback", {"payload": second, "hmac": s2})
    assert any(a["dedupe_key"] == f"payment_failure:second_charge:{second['obj']['id']}" for a in billing.alerts())

    refund, s3 = billing.callback(payment, txn_id=second["obj"]["id"], is_refunded=True)
    result = billing.rpc("handle_paymob_callback", {"payload": refund, "hmac": s3})
    assert (result["status"], result["duplicate"]) == ("confirmed", True)
    stored = billing.payment(payment["payment_id"])
    assert (stored["status"], stored["provider_reference"]) == ("confirmed", str(first["obj"]["id"]))
    assert billing.plan_of(ws) == "pro"
    [note] = billing.alerts("payment_refunded")
    assert note["dedupe_key"] == f"payment_refunded:other_transaction:{second['obj']['id']}"
    assert note["details"]["transaction_id"] == str(second["obj"]["id"])

    original, s4 = billing.callback(payment, txn_id=first["obj"]["id"], is_refunded=True)
    assert billing.rpc("handle_paymob_callback", {"payload": original, "hmac": s4})["status"] == "refunded"
    assert billing.payment(payment["payment_id"])["status"] == "refunded"
