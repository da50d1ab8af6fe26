"""public.billing_mismatches finds each kind of mismatch planted in the data, and only those."""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories, Workspace
from tests.support.payments import Billing


def _mismatches(billing: Billing, ws: Workspace) -> list[tuple[str, str | None, str | None]]:
    rows = billing.db.execute(
        "select kind, payment_id::text, subscription_id::text from public.billing_mismatches"
        " where workspace_id = %s order by kind",
        (ws.id,),
    ).fetchall()
    return [tuple(r) for r in rows]


def _paid(billing: Billing, factories: Factories) -> tuple[Workspace, dict]:
    ws = factories.workspace()
    payment = billing.request(ws)
    payload, signature = billing.callback(payment)
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})
    return ws, payment


def test_healthy_billing_shows_no_mismatch(billing: Billing, factories: Factories) -> None:
    ws, _ = _paid(billing, factories)
    fresh = factories.workspace()
    billing.request(fresh)  # pending, but not for long yet
    assert _mismatches(billing, ws) == []
    assert _mismatches(billing, fresh) == []


def test_confirmed_payment_without_active_subscription_is_found(billing: Billing, factories: Factories) -> None:
    ws, payment = _paid(billing, factories)
    billing.db.execute("update public.subscriptions set status = 'past_due' where workspace_id = %s", (ws.id,))
    assert ("confirmed_payment_without_subscription", payment["payment_id"], None) in _mismatches(billing, ws)


def test_paid_subscription_without_confirmed_payment_is_found(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace(plan_key="pro")
    row = billing.db.execute(
        "insert into public.subscriptions (workspace_id, plan_key, status) values (%s, 'pro', 'active') returning id",
        (ws.id,),
    ).fetchone()
    assert row is not None
    assert _mismatches(billing, ws) == [("paid_subscription_without_payment", None, str(row[0]))]


def test_refunded_payment_leaves_an_unpaid_subscription(billing: Billing, factories: Factories) -> None:
    ws, payment = _paid(billing, factories)
    billing.db.execute("update public.payments set status = 'refunded' where id = %s", (payment["payment_id"],))
    [(kind, _, sub_id)] = _mismatches(billing, ws)
    assert kind == "paid_subscription_without_payment"
    assert sub_id == billing.subscriptions(ws)[0]["id"]


def test_payment_stuck_pending_beyond_the_threshold_is_found(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    stuck = billing.request(ws)
    billing.request(ws)  # a fresh request is not stuck
    billing.db.execute(
        "update public.payments set created_at = now() - interval '2 hours' where id = %s", (stuck["payment_id"],)
    )
    assert _mismatches(billing, ws) == [("payment_stuck_pending", stuck["payment_id"], None)]
    # The threshold is a setting: lowered to one minute, nothing changes for a request made seconds ago.
    billing.db.execute("set opsdb.billing_pending_threshold = '1 minute'")
    assert [m[1] for m in _mismatches(billing, ws)] == [stuck["payment_id"]]
    billing.db.execute("set opsdb.billing_pending_threshold = '3 hours'")
    assert _mismatches(billing, ws) == []


def test_workspace_plan_drift_is_found(billing: Billing, factories: Factories) -> None:
    ws, _ = _paid(billing, factories)
    billing.db.execute("update public.workspaces set plan_key = 'business' where id = %s", (ws.id,))
    kinds = [m[0] for m in _mismatches(billing, ws)]
    assert "workspace_plan_drift" in kinds
    unpaid = factories.workspace(plan_key="business")
    assert [m[0] for m in _mismatches(billing, unpaid)] == ["workspace_plan_drift"]


def test_support_reads_every_workspace_and_members_only_their_own(billing: Billing, factories: Factories) -> None:
    ws = factories.workspace()
    other = factories.workspace()
    for w in (ws, other):
        p = billing.request(w)
        billing.db.execute(
            "update public.payments set created_at = now() - interval '2 hours' where id = %s", (p["payment_id"],)
        )
    support = factories.user()
    billing.db.execute("insert into public.user_roles (user_id, role) values (%s, 'support')", (support.id,))
    query = "select workspace_id::text from public.billing_mismatches where kind = 'payment_stuck_pending'"

    def seen_by(jwt_sub: str) -> set[str]:
        with billing.db.transaction():
            billing.db.execute("set local role authenticated")
            billing.db.execute(
                "select set_config('request.jwt.claims', %s, true)",
                (f'{{"role": "authenticated", "sub": "{jwt_sub}"}}',),
            )
            return {r[0] for r in billing.db.execute(query).fetchall()}

    assert seen_by(str(support.id)) >= {str(ws.id), str(other.id)}
    assert seen_by(str(ws.owner.id)) == {str(ws.id)}
    assert seen_by(str(factories.user().id)) == set()


def test_anon_cannot_read_the_view(billing: Billing) -> None:
    with pytest.raises(psycopg.Error) as err:
        with billing.db.transaction():
            billing.db.execute("set local role anon")
            billing.db.execute("select * from public.billing_mismatches")
    assert err.value.sqlstate == "42501"
