"""ingest_webhook with provider paymob routes to the same verification and processing."""

from __future__ import annotations

from harness.factories import Factories
from tests.support.payments import Billing
from tests.support.paymob import paymob_sign


def test_ingested_paymob_callback_activates_and_records_the_webhook(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment)
    result = billing.rpc(
        "ingest_webhook",
        {"provider": "paymob", "payload": payload, "url": f"https://example.test/paymob?hmac={signature}"},
    )
    assert result["status"] == "processed"
    stored = billing.payment(payment["payment_id"])
    assert (stored["status"], stored["webhook_id"]) == ("confirmed", result["webhook_id"])
    assert billing.plan_of(ws) == "pro"
    again = billing.rpc(
        "ingest_webhook",
        {"provider": "paymob", "payload": payload, "url": f"https://example.test/paymob?hmac={signature}"},
    )
    assert again["duplicate"] is True
    assert len(billing.audits("subscription.activated", ws)) == 1


def test_ingested_forged_paymob_callback_changes_no_plan(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, _ = billing.callback(payment)
    result = billing.rpc(
        "ingest_webhook",
        {"provider": "paymob", "payload": payload, "headers": {"hmac": paymob_sign(payload, "guessed")}},
    )
    assert result["status"] == "rejected"
    assert billing.payment(payment["payment_id"])["status"] == "pending"
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []


def test_a_paymob_callback_queued_on_request_upgrades_the_plan_once_drained(
    billing: Billing, factories: Factories
) -> None:
    # In the call is Paymob's default (the payer waits for the plan); a caller may
    # still queue it, and the drain then confirms the payment exactly as the call would.
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment)
    args = {"provider": "paymob", "payload": payload, "url": f"https://example.test/paymob?hmac={signature}"}

    queued = billing.rpc("ingest_webhook", {**args, "process_now": False})
    assert queued["status"] == "queued"
    assert (billing.payment(payment["payment_id"])["status"], billing.plan_of(ws)) == ("pending", "free")
    again = billing.rpc("ingest_webhook", args)
    assert (again["status"], again["original_status"]) == ("duplicate", "queued")

    drained = billing.rpc("drain_webhooks", {})

    assert (drained["drained"], drained["processed"]) == (1, 1)
    stored = billing.payment(payment["payment_id"])
    assert (stored["status"], stored["webhook_id"]) == ("confirmed", queued["webhook_id"])
    assert billing.plan_of(ws) == "pro"
    assert len(billing.audits("subscription.activated", ws)) == 1
