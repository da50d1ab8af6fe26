"""Exactly-once activation under real concurrency (threads on separate connections)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from harness.factories import Factories
from harness.race import race_each
from harness.rpc import SERVICE_ROLE, Jwt, RpcError, call
from tests.support.payments import Billing


def _race(connect: Callable[..., psycopg.Connection], calls: list[tuple[str, dict, Jwt | str]]) -> list[Any]:
    """Start every call at once, each on its own connection; return results or RpcErrors in order."""
    def run(job: tuple[psycopg.Connection, tuple[str, dict, Jwt | str]]) -> Any:
        conn, (name, args, as_) = job
        try:
            return call(conn, name, args, as_=as_).data
        except RpcError as err:
            return err

    return race_each([(connect(), c) for c in calls], run, timeout=60)


def test_paymob_callback_delivered_many_times_at_once_activates_once(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection]
) -> None:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment)
    args = {"payload": payload, "hmac": signature}
    results = _race(connect, [("handle_paymob_callback", args, SERVICE_ROLE)] * 6)
    assert all(isinstance(r, dict) and r["status"] == "confirmed" for r in results), results
    assert sorted(r["duplicate"] for r in results) == [False] + [True] * 5
    assert len(billing.audits("subscription.activated", ws)) == 1
    assert len(billing.subscriptions(ws)) == 1
    assert billing.plan_of(ws) == "pro"


def test_paymob_callback_delivered_twice_in_a_row_activates_once(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payload, signature = billing.callback(billing.request(ws))
    first = billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    period_end = billing.subscriptions(ws)[0]["current_period_end"]
    second = billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert len(billing.audits("subscription.activated", ws)) == 1
    [sub] = billing.subscriptions(ws)
    assert sub["current_period_end"] == period_end
    snapshots = billing.db.execute(
        "select count(*) from public.tier_snapshots where workspace_id = %s and reason = 'plan_change'", (ws.id,)
    ).fetchone()
    assert snapshots == (1,)


def test_paymob_callback_racing_admin_confirmation_activates_once(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection]
) -> None:
    admin = factories.platform_admin()
    for round_ in range(5):
        ws = factories.workspace()
        payment = billing.request(ws)
        payload, signature = billing.callback(payment)
        results = _race(
            connect,
            [
                ("handle_paymob_callback", {"payload": payload, "hmac": signature}, SERVICE_ROLE),
                (
                    "confirm_instapay_payment",
                    {"payment_id": payment["payment_id"], "bank_reference": f"IPN-RACE-{round_}"},
                    admin.jwt,
                ),
            ],
        )
        assert all(isinstance(r, dict) and r["status"] == "confirmed" for r in results), results
        assert sorted(r["duplicate"] for r in results) == [False, True]
        assert len(billing.audits("subscription.activated", ws)) == 1
        [sub] = billing.subscriptions(ws)
        assert sub["payment_id"] == payment["payment_id"]
        assert billing.plan_of(ws) == "pro"
        stored = billing.payment(payment["payment_id"])
        # Whichever came second, the Paymob transaction id is on record.
        assert stored["provider_reference"] == str(payload["obj"]["id"])


def test_two_payments_of_one_workspace_confirmed_at_once_leave_one_live_subscription(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection]
) -> None:
    ws = factories.workspace()
    pro, business = billing.request(ws, "pro"), billing.request(ws, "business")
    p1, s1 = billing.callback(pro)
    p2, s2 = billing.callback(business)
    results = _race(
        connect,
        [
            ("handle_paymob_callback", {"payload": p1, "hmac": s1}, SERVICE_ROLE),
            ("handle_paymob_callback", {"payload": p2, "hmac": s2}, SERVICE_ROLE),
        ],
    )
    assert [r["status"] for r in results] == ["confirmed", "confirmed"]
    live = [s for s in billing.subscriptions(ws) if s["status"] != "canceled"]
    assert len(live) == 1
    assert billing.plan_of(ws) == live[0]["plan_key"]
    assert len(billing.audits("subscription.activated", ws)) == 2
