"""confirm_instapay_payment: platform admins only, matched by bank reference, activates once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from harness.factories import Factories
from harness.rpc import RpcError, call
from tests.support.payments import Billing


def _confirm(billing: Billing, payment_id: str, bank_reference: str, caller) -> dict:
    return billing.rpc(
        "confirm_instapay_payment", {"payment_id": payment_id, "bank_reference": bank_reference}, as_=caller
    )


@pytest.mark.parametrize("role", ["member", "admin", "owner"])
def test_workspace_users_get_42501_and_nothing_changes(billing: Billing, factories: Factories, role: str) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro", "instapay")
    caller = ws.owner if role == "owner" else factories.member(ws, role)
    with pytest.raises(RpcError) as err:
        _confirm(billing, payment["payment_id"], "IPN-1", caller.jwt)
    assert err.value.sqlstate == "42501"
    assert billing.payment(payment["payment_id"])["status"] == "pending"
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []


@pytest.mark.parametrize("role", ["anon", "service_role"])
def test_api_roles_without_an_admin_user_get_42501(billing: Billing, factories: Factories, role: str) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro", "instapay")
    with pytest.raises(RpcError) as err:
        _confirm(billing, payment["payment_id"], "IPN-1", role)
    assert err.value.sqlstate == "42501"
    assert billing.payment(payment["payment_id"])["status"] == "pending"


def test_support_staff_cannot_confirm(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro", "instapay")
    support = factories.user()
    billing.db.execute("insert into public.user_roles (user_id, role) values (%s, 'support')", (support.id,))
    with pytest.raises(RpcError) as err:
        _confirm(billing, payment["payment_id"], "IPN-1", support.jwt)
    assert err.value.sqlstate == "42501"


def test_platform_admin_confirms_and_the_plan_is_activated(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "business", "instapay")
    admin = factories.platform_admin()
    result = _confirm(billing, payment["payment_id"], " IPN-2026-0001 ", admin.jwt)
    assert result["status"] == "confirmed"
    assert (result["plan_key"], result["duplicate"]) == ("business", False)
    stored = billing.payment(payment["payment_id"])
    assert stored["bank_reference"] == "IPN-2026-0001"
    assert stored["confirmed_by"] == str(admin.id)
    assert billing.plan_of(ws) == "business"
    [sub] = billing.subscriptions(ws)
    assert (sub["id"], sub["status"], sub["plan_key"]) == (result["subscription_id"], "active", "business")
    assert billing.limits(ws) == billing.plan_limits("business")
    [audit] = billing.audits("subscription.activated", ws)
    assert audit["actor_id"] == str(admin.id)


def test_confirming_twice_activates_once(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro", "instapay")
    admin = factories.platform_admin()
    first = _confirm(billing, payment["payment_id"], "IPN-7", admin.jwt)
    second = _confirm(billing, payment["payment_id"], "IPN-7", admin.jwt)
    assert second["duplicate"] is True
    assert {k: second[k] for k in ("payment_id", "status", "subscription_id", "plan_key")} == {
        k: first[k] for k in ("payment_id", "status", "subscription_id", "plan_key")
    }
    assert len(billing.audits("subscription.activated", ws)) == 1
    assert len(billing.subscriptions(ws)) == 1


def test_confirming_again_with_another_bank_reference_conflicts(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro", "instapay")
    admin = factories.platform_admin()
    _confirm(billing, payment["payment_id"], "IPN-7", admin.jwt)
    with pytest.raises(RpcError) as err:
        _confirm(billing, payment["payment_id"], "IPN-8", admin.jwt)
    assert (err.value.sqlstate, err.value.message) == ("PT409", "payment_already_confirmed")
    assert billing.payment(payment["payment_id"])["bank_reference"] == "IPN-7"


def test_one_bank_transfer_cannot_settle_two_requests(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    first, second = billing.request(ws, "pro", "instapay"), billing.request(ws, "pro", "instapay")
    admin = factories.platform_admin()
    _confirm(billing, first["payment_id"], "IPN-9", admin.jwt)
    with pytest.raises(RpcError) as err:
        _confirm(billing, second["payment_id"], "IPN-9", admin.jwt)
    assert (err.value.sqlstate, err.value.message) == ("PT409", "bank_reference_in_use")
    assert billing.payment(second["payment_id"])["status"] == "pending"
    assert len(billing.audits("subscription.activated", ws)) == 1


def test_rejected_payment_cannot_be_confirmed(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro", "paymob")
    payload, signature = billing.callback(payment, amount_cents=1)
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    with pytest.raises(RpcError) as err:
        _confirm(billing, payment["payment_id"], "IPN-10", factories.platform_admin().jwt)
    assert (err.value.sqlstate, err.value.message) == ("PT409", "payment_not_confirmable")
    assert billing.plan_of(ws) == "free"


@pytest.mark.parametrize("bank_reference", ["", "   ", "x" * 129])
def test_bank_reference_is_required(billing: Billing, factories: Factories, bank_reference: str) -> None:
    ws = factories.workspace()
    payment = billing.request(ws, "pro", "instapay")
    with pytest.raises(RpcError) as err:
        _confirm(billing, payment["payment_id"], bank_reference, factories.platform_admin().jwt)
    assert (err.value.sqlstate, err.value.message) == ("22023", "invalid_bank_reference")
    assert billing.payment(payment["payment_id"])["status"] == "pending"


def test_unknown_payment_is_not_found(billing: Billing, factories: Factories) -> None:
    with pytest.raises(RpcError) as err:
        _confirm(billing, "00000000-0000-0000-0000-000000000000", "IPN-11", factories.platform_admin().jwt)
    assert (err.value.sqlstate, err.value.message) == ("PT404", "payment_not_found")


def test_two_confirmations_racing_with_one_bank_reference_settle_one_payment(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection]
) -> None:
    """The second admin passes the "bank reference unused" check before the first commits: still PT409."""
    admin = factories.platform_admin()
    ws, other = factories.workspace(), factories.workspace()
    first, second = billing.request(ws, "pro", "instapay"), billing.request(other, "pro", "instapay")
    holder, racer = connect(), connect()
    outcome: dict[str, Any] = {}

    def confirm(conn: psycopg.Connection, payment: dict) -> dict:
        args = {"payment_id": payment["payment_id"], "bank_reference": "IPN-RACE"}
        return call(conn, "confirm_instapay_payment", args, as_=admin.jwt).data

    def confirm_second() -> None:
        try:
            outcome["second"] = confirm(racer, second)
        except RpcError as err:
            outcome["second"] = err

    with holder.transaction():  # the first confirmation, not yet committed
        confirm(holder, first)
        thread = threading.Thread(target=confirm_second)
        thread.start()
        for _ in range(200):  # until the second waits on the first's bank_reference index entry
            row = billing.db.execute("select pg_blocking_pids(%s)", (racer.info.backend_pid,)).fetchone()
            if row is not None and row[0] == [holder.info.backend_pid]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the second confirmation never waited on the first")
    thread.join(timeout=60)
    err = outcome["second"]
    assert isinstance(err, RpcError), err
    assert (err.sqlstate, err.message, err.status) == ("PT409", "bank_reference_in_use", 409)
    assert first["payment_id"] in (err.detail or "")
    assert billing.payment(first["payment_id"])["status"] == "confirmed"
    assert billing.payment(second["payment_id"])["status"] == "pending"
    assert billing.plan_of(other) == "free"
    assert billing.audits("subscription.activated", other) == []
