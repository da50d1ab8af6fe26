"""RLS matrix rows for the jobs' tables (format: spec.py).

Only the jobs write them (definer code; service_role has no write grant on
either). Platform staff and service_role read both.
"""

from __future__ import annotations

import uuid

from tests.security.rls_matrix.spec import Table, World


def _run(w: World) -> dict:
    return {"job_name": "matrix_probe", "started_by_role": "postgres"}


# Written only by the jobs' definer code: service_role reads, and cannot forge or erase a run.
STAFF_READ = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  hidden   hidden  hidden  hidden   ok      ok
    insert  denied  denied   denied  denied  denied   denied  denied
    update  denied  denied   denied  denied  denied   denied  denied
    delete  denied  denied   denied  denied  denied   denied  denied
"""

TABLES = [
    Table(
        "job_runs",
        seed=lambda w: w.insert("job_runs", **_run(w)),
        insert=_run,
        update={"result": {"probe": True}},
        expect=STAFF_READ,
    ),
    Table(
        "retention_policies",
        # The migration seeds every allowed name; the probe row is one of them.
        seed=lambda w: w.one("select name from public.retention_policies where name = 'job_runs'"),
        insert=lambda w: {"name": "unknown_phone", "keep_days": 1, "description": "matrix probe " + uuid.uuid4().hex},
        update={"keep_days": 7},
        key=("name",),
        expect=STAFF_READ,
    ),
]
