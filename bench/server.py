"""A dedicated throw-away cluster for one bench run, provisioned like production.

Same shape as the test backend (harness/backends.py): the template database is
migrated while it is pg_cron's database, then the launcher is pointed at a
database of its own so the template can be cloned. The bench also switches every
scheduled job off there: a job waking up mid-run would be noise in the numbers
(and would hold a connection to the template while a clone is being made).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bench.pgbench import Connection
from bench.runner import Target
from harness import project
from harness.cluster import SUPERUSER, LocalCluster
from harness.progress import heartbeat
from harness.provision import provision

TEMPLATE_DB = "opsdb_bench_tmpl"
CRON_DB = "opsdb_bench_cron"

# Settings of the throw-away cluster, recorded with the results (fast=True).
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@contextmanager
def dedicated_cluster(out: Callable[[str], None]) -> Iterator[Target]:
    """Start a fast embedded cluster in a temp dir, provision it, yield it, destroy it."""
    base = Path(tempfile.mkdtemp(prefix="opsdb-bench-"))
    cluster = LocalCluster(base, dbname=TEMPLATE_DB, fast=True)
    try:
        state = cluster.start()
        out(f"cluster: PostgreSQL {cluster.binaries.major} on 127.0.0.1:{state.port} (fsync off, throw-away, {base})")
        url = cluster.ensure_database(TEMPLATE_DB)
        out(f"provisioning {TEMPLATE_DB}: the compat layer and every file of db/")
        with heartbeat(out, f"provisioning {TEMPLATE_DB}"):
            plan = provision(url, project.db_dir(), out=lambda _line: None)
        out(f"provisioned {TEMPLATE_DB}: compat layer and {len(plan.to_apply)} files of db/ applied")
        cluster.restart_with(**{"cron.database_name": f"'{CRON_DB}'"})
        cluster.ensure_database_from(CRON_DB, template=TEMPLATE_DB)
        with psycopg.connect(cluster.url(CRON_DB), autocommit=True) as conn:
            conn.execute("update cron.job set active = false")
        yield Target(conn=Connection(host="127.0.0.1", port=cluster.state.port, user=SUPERUSER), template=TEMPLATE_DB)
    finally:
        cluster.destroy()

