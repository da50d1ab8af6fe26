"""RLS matrix rows for the payments tables (format: spec.py).

Users only read billing records (writes go through create_payment_request,
handle_paymob_callback and confirm_instapay_payment); payments are for the
workspace's owners and admins, subscriptions for all its members; platform
admins (support) read both. service_role reads them but writes them only
through those functions (nothing upgrades without a confirmation), and
nobody deletes them.
"""

from __future__ import annotations

import uuid

from tests.security.rls_matrix.spec import Table, World


def _reference() -> str:
    return "OPS-MX" + uuid.uuid4().hex[:10].upper()


def _payment(w: World) -> dict:
    return {
        "workspace_id": w.a,
        "plan_key": "pro",
        "provider": "instapay",
        "amount_minor": 150000,
        "currency": "EGP",
        "reference": _reference(),
    }


TABLES = [
    Table(
        "payments",
        seed=lambda w: w.insert("payments", **_payment(w)),
        insert=_payment,
        update={"failure_reason": "matrix probe"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  hidden   ok      ok      hidden   ok      ok
            insert  denied  denied   denied  denied  denied   denied  denied
            update  denied  denied   denied  denied  denied   denied  denied
            delete  denied  denied   denied  denied  denied   denied  denied
        """,
    ),
    Table(
        "subscriptions",
        seed=lambda w: w.insert("subscriptions", workspace_id=w.a, plan_key="pro", status="active"),
        # A canceled row: the live one is unique per workspace.
        insert=lambda w: {"workspace_id": w.a, "plan_key": "pro", "status": "canceled"},
        update={"status": "past_due"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  ok       ok      ok      hidden   ok      ok
            insert  denied  denied   denied  denied  denied   denied  denied
            update  denied  denied   denied  denied  denied   denied  denied
            delete  denied  denied   denied  denied  denied   denied  denied
        """,
    ),
]
