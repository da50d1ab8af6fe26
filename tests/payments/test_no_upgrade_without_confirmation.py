"""No upgrade without confirmation: every unconfirmed path leaves the plan alone."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from harness.factories import Factories, Workspace
from tests.support.payments import Billing
from tests.support.paymob import paymob_sign


def _pending_paymob(billing: Billing, ws: Workspace) -> None:
    billing.request(ws, "pro", "paymob")


def _failed_paymob(billing: Billing, ws: Workspace) -> None:
    payload, signature = billing.callback(billing.request(ws, "pro", "paymob"), success=False)
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})


def _forged_paymob(billing: Billing, ws: Workspace) -> None:
    payload, _ = billing.callback(billing.request(ws, "pro", "paymob"))
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": paymob_sign(payload, "guessed")})


def _unconfirmed_instapay(billing: Billing, ws: Workspace) -> None:
    billing.request(ws, "pro", "instapay")


@pytest.mark.parametrize(
    "path",
    [_pending_paymob, _failed_paymob, _forged_paymob, _unconfirmed_instapay],
    ids=["pending_payment", "failed_paymob_transaction", "forged_hmac", "unconfirmed_instapay"],
)
def test_plan_unchanged_without_a_confirmation(
    billing: Billing, factories: Factories, path: Callable[[Billing, Workspace], None]
) -> None:
    ws = factories.workspace()
    before = billing.limits(ws)
    path(billing, ws)
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []
    assert billing.audits("subscription.activated", ws) == []
    assert billing.limits(ws) == before
    confirmed = billing.db.execute("select count(*) from public.payments where status = 'confirmed'").fetchone()
    assert confirmed == (0,)


SERVICE_ROLE_WRITES = {
    "plan_key": "update public.workspaces set plan_key = 'business' where id = %(ws)s",
    "insert_payment": (
        "insert into public.payments (workspace_id, plan_key, provider, amount_minor, currency, reference, status,"
        " confirmed_at) values (%(ws)s, 'business', 'instapay', 1, 'EGP', 'OPS-FORGED-1', 'confirmed', now())"
    ),
    "confirm_payment": (
        "update public.payments set status = 'confirmed', confirmed_at = now() where workspace_id = %(ws)s"
    ),
    "insert_subscription": (
        "insert into public.subscriptions (workspace_id, plan_key, status) values (%(ws)s, 'business', 'active')"
    ),
}


@pytest.mark.parametrize("statement", SERVICE_ROLE_WRITES.values(), ids=SERVICE_ROLE_WRITES.keys())
def test_service_role_cannot_write_its_way_to_a_plan(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection], statement: str
) -> None:
    ws = factories.workspace()
    billing.request(ws, "business", "instapay")
    conn = connect()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute("set local role service_role")
        conn.execute(statement, {"ws": ws.id})
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []
    statuses = billing.db.execute("select status from public.payments where workspace_id = %s", (ws.id,)).fetchall()
    assert statuses == [("pending",)]


def test_service_role_still_renames_and_suspends_workspaces(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection]
) -> None:
    ws = factories.workspace()
    conn = connect()
    with conn.transaction():
        conn.execute("set local role service_role")
        conn.execute(
            "update public.workspaces set name = 'Renamed', status = 'suspended', status_reason = 'review'"
            " where id = %s",
            (ws.id,),
        )
    row = billing.db.execute("select name, status, plan_key from public.workspaces where id = %s", (ws.id,)).fetchone()
    assert row == ("Renamed", "suspended", "free")
