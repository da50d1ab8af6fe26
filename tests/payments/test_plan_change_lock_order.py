"""A plan change (activation or cancel) never deadlocks with a usage record that raises an alert.

record_usage locks the period's usage_limits row and, crossing a threshold,
inserts an alert whose foreign key takes FOR KEY SHARE on the workspace. The
plan change locks the workspace, then the same usage_limits rows. A workspace
lock that conflicts with KEY SHARE (FOR UPDATE) made these two a deadlock
(40P01); FOR NO KEY UPDATE does not. The window is held open deterministically:
a third session keeps an open alert with the usage alert's dedupe key in an
uncommitted transaction, so record_usage waits on it while holding its row lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, Workspace
from harness.rpc import SERVICE_ROLE, RpcError, call
from tests.support.payments import Billing


def _wait_until_blocked(db: psycopg.Connection, waiter: psycopg.Connection, by: psycopg.Connection) -> None:
    """Wait until ``waiter``'s session is blocked by exactly ``by``'s session."""
    for _ in range(200):
        row = db.execute("select pg_blocking_pids(%s)", (waiter.info.backend_pid,)).fetchone()
        if row is not None and row[0] == [by.info.backend_pid]:
            return
        time.sleep(0.05)
    pytest.fail(f"session {waiter.info.backend_pid} was never blocked by {by.info.backend_pid} alone")


def _in_thread(fn: Callable[[], Any], out: dict[str, Any], key: str) -> threading.Thread:
    def run() -> None:
        try:
            out[key] = fn()
        except (RpcError, psycopg.Error) as err:
            out[key] = err

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _race_plan_change_with_usage_alert(
    billing: Billing,
    connect: Callable[..., psycopg.Connection],
    ws: Workspace,
    quantity: int,
    plan_change: Callable[[psycopg.Connection], Any],
) -> dict[str, Any]:
    db = billing.db
    call(connect(), "record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1}, as_=SERVICE_ROLE)
    row = db.execute(
        "select period_start, plan_key from public.usage_limits"
        " where workspace_id = %s and metric = 'sms' and period_start = private.usage_period()",
        (ws.id,),
    ).fetchone()
    assert row is not None
    dedupe_key = f"usage_warning:{ws.id}:sms:{row[0]}:{row[1]}"

    # No workspace_id on the held alert: its own FK check would hold KEY SHARE on the workspace.
    holder = connect(autocommit=False)
    holder.execute(
        "insert into public.alerts (type, severity, dedupe_key, message)"
        " values ('usage_warning', 'warning', %s, 'held open by the test')",
        (dedupe_key,),
    )
    recorder, changer = connect(), connect()
    out: dict[str, Any] = {}
    usage = _in_thread(
        lambda: call(
            recorder, "record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": quantity},
            as_=SERVICE_ROLE,
        ).data,
        out,
        "usage",
    )
    _wait_until_blocked(db, recorder, holder)  # holds usage_limits, waits on the held dedupe key
    change = _in_thread(lambda: plan_change(changer), out, "change")
    _wait_until_blocked(db, changer, recorder)  # holds the workspace, waits on usage_limits
    holder.rollback()  # record_usage's alert insert goes ahead: its FK check needs KEY SHARE on the workspace
    usage.join(timeout=60)
    change.join(timeout=60)
    assert not usage.is_alive() and not change.is_alive()
    return out


def test_paymob_activation_racing_a_usage_alert_does_not_deadlock(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection]
) -> None:
    ws = factories.workspace()
    payload, signature = billing.callback(billing.request(ws, "pro"))
    args = {"payload": payload, "hmac": signature}
    out = _race_plan_change_with_usage_alert(
        billing,
        connect,
        ws,
        44,  # free: soft limit 40
        lambda conn: call(conn, "handle_paymob_callback", args, as_=SERVICE_ROLE).data,
    )
    assert isinstance(out["usage"], dict), out
    assert isinstance(out["change"], dict) and out["change"]["status"] == "confirmed", out
    assert billing.plan_of(ws) == "pro"
    assert billing.limits(ws)["sms"] == billing.plan_limits("pro")["sms"]


def test_instapay_activation_racing_a_usage_alert_does_not_deadlock(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection]
) -> None:
    ws = factories.workspace()
    admin = factories.platform_admin()
    payment = billing.request(ws, "pro", "instapay")
    args = {"payment_id": payment["payment_id"], "bank_reference": "IPN-LOCK-ORDER"}
    out = _race_plan_change_with_usage_alert(
        billing, connect, ws, 44, lambda conn: call(conn, "confirm_instapay_payment", args, as_=admin.jwt).data
    )
    assert isinstance(out["usage"], dict), out
    assert isinstance(out["change"], dict) and out["change"]["status"] == "confirmed", out
    assert billing.plan_of(ws) == "pro"


def test_cancel_racing_a_usage_alert_does_not_deadlock(
    billing: Billing, factories: Factories, connect: Callable[..., psycopg.Connection]
) -> None:
    ws = factories.workspace()
    payload, signature = billing.callback(billing.request(ws, "pro"))
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    assert billing.plan_of(ws) == "pro"

    def cancel(conn: psycopg.Connection) -> int:
        return conn.execute(
            "UPDATE public.subscriptions SET status = 'canceled' WHERE workspace_id = %s", (ws.id,)
        ).rowcount

    out = _race_plan_change_with_usage_alert(billing, connect, ws, 420, cancel)  # pro: soft limit 400
    assert isinstance(out["usage"], dict), out
    assert out["change"] == 1, out
    assert billing.plan_of(ws) == "free"
    assert billing.limits(ws)["sms"] == billing.plan_limits("free")["sms"]
