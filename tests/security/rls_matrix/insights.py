"""RLS matrix row for weekly_insights (format: spec.py).

Only generate_weekly_insights (definer code) writes it: every API role,
service_role included, is denied direct writes. The workspace's members and
platform staff read it. The view dashboard_daily_metrics is not a table (the
matrix covers relkind r/p only); its RLS is tested in tests/jobs/test_dashboard_metrics.py.
"""

from __future__ import annotations

import datetime

from tests.security.rls_matrix.spec import Table, World

WEEK = datetime.date(2026, 1, 5)  # a Monday

WORKSPACE_READ_ONLY = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  ok       ok      ok      hidden   ok      ok
    insert  denied  denied   denied  denied  denied   denied  denied
    update  denied  denied   denied  denied  denied   denied  denied
    delete  denied  denied   denied  denied  denied   denied  denied
"""


def _insight(w: World, week: datetime.date) -> dict:
    return {"workspace_id": w.a, "week_start": week, "calls": 1}


TABLES = [
    Table(
        "weekly_insights",
        seed=lambda w: w.insert("weekly_insights", **_insight(w, WEEK)),
        insert=lambda w: _insight(w, WEEK + datetime.timedelta(days=7)),
        update={"calls": 1000},
        expect=WORKSPACE_READ_ONLY,
    ),
]
