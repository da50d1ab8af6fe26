"""pg_cron on a server set up like a stock one: found missing, added later, and refused by pg_hba.conf.

One small cluster of its own, walked through the life of a DBA's server in order:
the project migrated into a database pg_cron does not serve (the jobs wait, and
migrate says why and what to do); pg_cron pointed at that database later (the
next migrate creates the extension and schedules every job, and warns that
pg_hba.conf asks pg_cron for a password); a job then really run by pg_cron and
refused (audit names it with pg_cron's own reason). As on a stock server, the
DBA's role needs a password on localhost (pg_hba.conf: scram-sha-256), and pg_cron
connects as the jobs' owner, that role, without one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from harness.audit.readiness import cron_job_names
from harness.cli import main
from harness.cluster import LocalCluster
from harness.rows import scalar

APP = "app"
DBA = "dba"
PASSWORD = "dba-secret"


@pytest.fixture(scope="module")
def stock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tmp_path_factory.mktemp("stock") / "cluster", dbname="cron_home", fast=True)
    try:
        state = cluster.start()
        hba = state.data_dir / "pg_hba.conf"
        hba.write_text(f"host all {DBA} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        cluster.ensure_database(APP)
        with psycopg.connect(cluster.url(APP), autocommit=True) as conn:
            conn.execute(f"create role {DBA} login superuser password '{PASSWORD}'")
            conn.execute("select pg_reload_conf()")
        yield cluster
    finally:
        cluster.destroy()


def _url(cluster: LocalCluster) -> str:
    return f"postgresql://{DBA}:{PASSWORD}@127.0.0.1:{cluster.state.port}/{APP}"


def _opsdb(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_1_without_pg_cron_in_the_database_the_jobs_wait_and_migrate_says_what_to_do(
    stock_server: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _url(stock_server)

    code, out, err = _opsdb(capsys, "migrate", "--database-url", url)

    assert code == 0, err
    assert "applied cron" not in out
    warning = [line for line in out.splitlines() if line.startswith("WARNING:")]
    assert warning == [
        f"WARNING: {len(cron_job_names())} cron file(s) not applied: pg_cron is not installed in database 'app': "
        "pg_cron runs in database 'cron_home' (cron.database_name), not in 'app'. To schedule the jobs: set "
        "cron.database_name = 'app' in postgresql.conf and restart (pg_cron serves one database); then run "
        "`.venv/bin/opsdb migrate` again: it schedules every job of db/cron/."
    ]
    code, out, err = _opsdb(capsys, "status", "--database-url", url)
    assert code == 0
    assert "waiting  cron/webhook_retry_sweeper.sql (needs pg_cron in this database)" in out
    waiting = f", 0 to apply, {len(cron_job_names())} waiting for pg_cron, 0 drifted"
    assert any(line.endswith(waiting) for line in out.splitlines())
    # The audit does not count waiting cron files as missing migrations: its cron check warns instead.
    code, out, err = _opsdb(capsys, "audit", "--database-url", url)
    assert "- PASS `migrations_applied`" in out
    assert "- WARN `cron_jobs_scheduled`" in out and "set cron.database_name = 'app'" in out


def test_2_once_pg_cron_serves_the_database_migrate_schedules_every_job_and_warns_of_pg_hba(
    stock_server: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _url(stock_server)
    stock_server.restart_with(**{"cron.database_name": f"'{APP}'"})

    code, out, err = _opsdb(capsys, "migrate", "--dry-run", "--database-url", url)
    assert code == 0, err
    assert "would create extension pg_cron (cron.database_name is this database)" in out
    assert "would apply cron      cron/weekly_insights.sql" in out

    code, out, err = _opsdb(capsys, "migrate", "--database-url", url)

    assert code == 0, err
    assert "created extension pg_cron (cron.database_name is this database)" in out
    assert sum(line.startswith("applied cron") for line in out.splitlines()) == len(cron_job_names())
    with psycopg.connect(url) as conn:
        jobs = [r[0] for r in conn.execute("select jobname from cron.job order by 1").fetchall()]
    assert jobs == sorted(cron_job_names())
    warning = next(line for line in out.splitlines() if line.startswith("WARNING:"))
    assert warning.startswith(
        f"WARNING: pg_cron connects to localhost:{stock_server.state.port}/app as dba (cron.host, no password), "
        "and pg_hba.conf line 1 asks for a password (scram-sha-256): every job fails with 'connection failed'"
    )
    assert "cron.use_background_workers = on" in warning
    assert "`host app dba 127.0.0.1/32 trust`" in warning

    code, out, err = _opsdb(capsys, "migrate", "--database-url", url)
    assert "nothing to apply" in out


def test_3_a_job_pg_cron_could_not_connect_for_is_reported_by_audit_and_migrate(
    stock_server: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _url(stock_server)
    with psycopg.connect(url, autocommit=True) as conn:
        # @reboot: pg_cron runs the job as soon as its launcher starts, no minute boundary to wait for.
        conn.execute(
            "select cron.alter_job(jobid, schedule := '@reboot') from cron.job where jobname = 'webhook-retry-sweeper'"
        )
    stock_server.restart_with()
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while not scalar(
            conn,
            "select exists (select from cron.job_run_details as d join cron.job as j using (jobid)"
            " where j.jobname = 'webhook-retry-sweeper' and d.status = 'failed')"
        ):
            assert time.monotonic() < deadline, "pg_cron never ran the @reboot job"
            time.sleep(0.2)

    code, out, err = _opsdb(capsys, "audit", "--database-url", url)

    assert code == 0, err
    assert "  - webhook-retry-sweeper: last run failed" in out and "connection failed" in out
    assert "- WARN `cron_jobs_can_connect`" in out
    code, out, err = _opsdb(capsys, "migrate", "--database-url", url)
    assert any(
        line.startswith("WARNING: webhook-retry-sweeper: its last run (") and line.endswith("failed: connection failed")
        for line in out.splitlines()
    ), out


def test_the_advice_names_each_reason_pg_cron_can_be_missing() -> None:
    from harness.pgcron import Facts, absence_advice

    assert "the server has no pg_cron" in absence_advice(Facts("app", False, False, None))
    assert "add pg_cron to shared_preload_libraries" in absence_advice(Facts("app", True, False, None))
    assert "set cron.database_name = 'app'" in absence_advice(Facts("app", True, True, "postgres"))
    assert "only needs creating, which migrate does" in absence_advice(Facts("app", True, True, "app"))
    assert Facts("app", True, True, "app").creatable and not Facts("app", True, True, "postgres").creatable

