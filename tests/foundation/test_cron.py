"""pg_cron is preloaded, our jobs are scheduled by name, and the scheduler really runs them."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from harness import project
from harness.migrate import apply_file, discover
from harness.rows import one, scalar
from tests.cron_probes import CronProbes


def _cron_files() -> list:
    return [f for f in discover(project.db_dir()) if f.kind == "cron"]


@pytest.mark.opsdb_needs("pg_cron")
def test_every_cron_file_schedules_its_job_once(db: psycopg.Connection) -> None:
    files = _cron_files()
    assert files, "db/cron/ holds at least one job"
    before = db.execute("select jobname, count(*) from cron.job group by jobname order by 1").fetchall()
    assert before and all(count == 1 for _, count in before)

    for f in files:  # re-apply every cron file twice, as a changed checksum would
        apply_file(db, f, "test")
        apply_file(db, f, "test")

    after = db.execute("select jobname, count(*) from cron.job group by jobname order by 1").fetchall()
    assert after == before


@pytest.mark.opsdb_needs("pg_cron")
def test_schedule_job_replaces_a_job_of_the_same_name(db: psycopg.Connection) -> None:
    first = one(db, "select private.schedule_job('probe-job', '0 1 * * *', 'select 1')")
    second = db.execute("select private.schedule_job('probe-job', '0 2 * * *', 'select 2')").fetchone()

    rows = db.execute("select jobid, schedule, command from cron.job where jobname = 'probe-job'").fetchall()
    assert rows == [(first[0], "0 2 * * *", "select 2")]
    assert second == first


def test_schedule_job_is_a_notice_without_pg_cron(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("create schema private")
        source = (Path(project.db_dir()) / "functions/ops/schedule_job.sql").read_text()
        conn.execute(source.encode())
        notices: list[str] = []
        conn.add_notice_handler(lambda n: notices.append(n.message_primary or ""))
        assert conn.execute("select private.schedule_job('x', '* * * * *', 'select 1')").fetchone() == (None,)
        assert any("not scheduled" in n for n in notices)


def test_the_scheduler_runs_a_job_in_the_cron_database(cron_probes: CronProbes) -> None:
    # pg_cron's launcher works in opsdb_cron, a clone of the migrated template, where a
    # probe job was scheduled at the start of the session (tests/cron_probes.py).
    with psycopg.connect(cron_probes.url, autocommit=True) as conn:
        assert conn.execute("select current_setting('cron.database_name')").fetchone() == ("opsdb_cron",)
        cron_probes.wait_until(conn, lambda: bool(cron_probes.runs(conn, "probe-every-minute")))
        runs = cron_probes.runs(conn, "probe-every-minute")
        inserted = scalar(conn, "select count(*) from public.cron_probe")
    assert ("succeeded",) in runs and inserted > 0
