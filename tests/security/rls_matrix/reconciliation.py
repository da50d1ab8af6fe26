"""RLS matrix rows for the reconciliation tables (format: spec.py).

Provider usage reports are loaded by backends: service_role inserts and
re-imports (updates) them but may not delete one. Tolerances change by
migration or operator SQL only; runs and items are written only by
run_reconciliation (definer code), so no API role writes them, service_role
included. Platform staff read all four; workspace members read none (an
internal control whose findings staff triage first).
"""

from __future__ import annotations

import datetime
import uuid

from tests.security.rls_matrix.spec import Table, World

DAY = datetime.date(2026, 1, 5)

PROVIDER_REPORTS = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  hidden   hidden  hidden  hidden   ok      ok
    insert  denied  denied   denied  denied  denied   denied  ok
    update  denied  denied   denied  denied  denied   denied  ok
    delete  denied  denied   denied  denied  denied   denied  denied
"""

STAFF_READ_ONLY = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  hidden   hidden  hidden  hidden   ok      ok
    insert  denied  denied   denied  denied  denied   denied  denied
    update  denied  denied   denied  denied  denied   denied  denied
    delete  denied  denied   denied  denied  denied   denied  denied
"""


def _report(w: World) -> dict:
    # A fresh provider name per probe, so the insert never meets the seeded line's key.
    return {
        "provider": "p_" + uuid.uuid4().hex[:12],
        "workspace_id": w.a,
        "metric": "sms",
        "usage_date": DAY,
        "quantity": 3,
        "report_ref": "UR" + uuid.uuid4().hex,
    }


def _run(w: World) -> dict:
    return {"period_start": DAY, "period_end": DAY + datetime.timedelta(days=1)}


def _item(w: World) -> dict:
    return {
        "run_id": w.row("reconciliation_runs")["id"],
        "workspace_id": w.a,
        "metric": "call_minutes",
        "usage_date": DAY,
        "kind": "mismatched",
        "internal_quantity": 10,
        "provider_quantity": 12,
        "difference": -2,
    }


TABLES = [
    Table(
        "provider_usage_reports",
        seed=lambda w: w.insert("provider_usage_reports", **_report(w)),
        insert=_report,
        update={"quantity": 4},
        expect=PROVIDER_REPORTS,
    ),
    Table(
        "reconciliation_tolerances",
        # The migration seeds every metric; the probe row is one of them.
        seed=lambda w: w.one("select metric from public.reconciliation_tolerances where metric = 'sms'"),
        insert=lambda w: {"metric": "sms", "absolute_tolerance": 0, "relative_tolerance": 0, "note": "probe"},
        update={"absolute_tolerance": 5},
        key=("metric",),
        expect=STAFF_READ_ONLY,
    ),
    Table(
        "reconciliation_runs",
        seed=lambda w: w.insert("reconciliation_runs", **_run(w)),
        insert=_run,
        update={"matched": 7},
        expect=STAFF_READ_ONLY,
    ),
    Table(
        "reconciliation_items",
        seed=lambda w: w.insert("reconciliation_items", **_item(w)),
        insert=lambda w: {**_item(w), "usage_date": DAY + datetime.timedelta(days=1)},
        update={"difference": -3},
        expect=STAFF_READ_ONLY,
    ),
]
