"""Deployment records: every migrate that changes something is recorded, with its restore point."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
import pytest

from harness.deploy.deployments import DeploymentRefused
from harness.migrate import MigrationError, migrate
from harness.pgbin import find_binaries
from harness.rows import scalar
from tests.support.scratch import ScratchProject, git

V1 = "migrations/20260101000000_create_things.sql"
V2 = "migrations/20260102000000_fill_things.sql"
DROP = "migrations/20260103000000_drop_things.sql"


def _quiet(_line: str) -> None:
    pass


def _deployments(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "select d.*, r.name as rp_name, r.named as rp_named, r.wal_lsn::text as rp_lsn, r.taken_at as rp_at,"
            " r.wal_archived as rp_archived, r.not_named_because as rp_why, r.backup_file as rp_backup"
            " from opsdb_meta.deployments as d left join opsdb_meta.restore_points as r on r.id = d.restore_point_id"
            " order by d.id"
        ).fetchall()


def test_a_migrate_records_who_the_commit_the_files_the_outcome_and_the_restore_point(
    git_scratch: ScratchProject, empty_database_url: str
) -> None:
    git_scratch.write(V1, "create table public.things (id bigint primary key);\n")
    git(git_scratch.root, "add", "-A")
    git(git_scratch.root, "commit", "-q", "-m", "things")
    head = git(git_scratch.root, "rev-parse", "HEAD")

    migrate(empty_database_url, git_scratch.db, out=_quiet)

    [row] = _deployments(empty_database_url)
    assert row["outcome"] == "succeeded" and row["error"] is None
    assert row["git_commit"] == head and row["git_dirty"] is False
    assert row["files"] == [V1, "functions/answer.sql"]
    assert row["deployed_by"].startswith("postgres (")
    assert row["started_at"] <= row["finished_at"]
    # A superuser creates the named point; the WAL position and time are always there.
    assert row["rp_named"] is True and row["rp_name"].startswith("opsdb_deploy_")
    assert row["rp_lsn"] and row["rp_at"] <= row["started_at"]


def test_uncommitted_files_mark_the_deployment_dirty_and_a_no_op_migrate_records_nothing(
    git_scratch: ScratchProject, empty_database_url: str
) -> None:
    git_scratch.write(V1, "create table public.things (id bigint primary key);\n")  # not committed

    migrate(empty_database_url, git_scratch.db, out=_quiet)
    migrate(empty_database_url, git_scratch.db, out=_quiet)

    [row] = _deployments(empty_database_url)
    assert row["git_dirty"] is True


def test_reapplied_files_alone_take_no_restore_point_and_outside_git_no_commit(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write(
        "functions/f.sql", "create or replace function public.f() returns int language sql as $$select 1$$;\n"
    )

    migrate(empty_database_url, scratch.db, out=_quiet)

    [row] = _deployments(empty_database_url)
    assert (row["git_commit"], row["git_dirty"], row["restore_point_id"]) == (None, None, None)


def test_a_failing_file_records_a_failed_deployment_with_the_files_applied_before_it(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write(V1, "create table public.things (id bigint primary key);\n")
    scratch.write(V2, "insert into public.things values (1);\ninsert into public.nothing values (1);\n")

    with pytest.raises(MigrationError):
        migrate(empty_database_url, scratch.db, out=_quiet)

    [row] = _deployments(empty_database_url)
    assert row["outcome"] == "failed"
    assert row["files"] == [V1]
    assert f"db/{V2}:2:" in row["error"] and "public.nothing" in row["error"]
    assert row["finished_at"] is not None


def test_without_a_restorable_restore_point_a_destructive_migration_is_refused_and_nothing_applied(
    scratch: ScratchProject, deployer_url: str
) -> None:
    scratch.write(V1, "create table public.things (id bigint primary key);\n")
    migrate(deployer_url, scratch.db, out=_quiet)
    scratch.write(DROP, "-- opsdb:destructive things moved elsewhere\ndrop table public.things;\n")

    with pytest.raises(DeploymentRefused, match="--backup FILE"):
        migrate(deployer_url, scratch.db, out=_quiet)

    first, refused = _deployments(deployer_url)
    # A role that may not call pg_create_restore_point still gets the WAL position and time.
    assert first["rp_named"] is False and "may not call pg_create_restore_point" in first["rp_why"]
    assert first["rp_lsn"] and first["rp_archived"] is False
    assert refused["outcome"] == "refused" and refused["files"] == []
    assert "db/" + DROP in refused["error"]
    with psycopg.connect(deployer_url) as conn:
        assert conn.execute("select to_regclass('public.things') is not null").fetchone() == (True,)


def test_a_backup_makes_the_destructive_migration_go_and_is_a_private_restorable_dump(
    scratch: ScratchProject, deployer_url: str, tmp_path: Path
) -> None:
    scratch.write(V1, "create table public.things (id bigint primary key);\ninsert into public.things values (7);\n")
    migrate(deployer_url, scratch.db, out=_quiet)
    scratch.write(DROP, "-- opsdb:destructive things moved elsewhere\ndrop table public.things;\n")
    backup = tmp_path / "before-drop.dump"

    migrate(deployer_url, scratch.db, backup=backup, out=_quiet)

    last = _deployments(deployer_url)[-1]
    assert last["outcome"] == "succeeded" and last["files"] == [DROP]
    assert last["rp_backup"] == str(backup.resolve())
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    listing = subprocess.run(
        [find_binaries().path("pg_restore"), "--list", str(backup)], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE DATA public things" in listing


def test_an_existing_backup_file_is_never_overwritten_and_nothing_is_applied(
    scratch: ScratchProject, empty_database_url: str, tmp_path: Path
) -> None:
    scratch.write(V1, "create table public.things (id bigint primary key);\n")
    backup = tmp_path / "taken.dump"
    backup.write_text("an older backup")

    with pytest.raises(RuntimeError, match="already exists"):
        migrate(empty_database_url, scratch.db, backup=backup, out=_quiet)

    assert backup.read_text() == "an older backup"
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("select to_regclass('public.things')").fetchone() == (None,)


def test_a_killed_runner_is_marked_interrupted_by_the_next_one(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write(V1, "create table public.things (id bigint primary key);\n")
    migrate(empty_database_url, scratch.db, out=_quiet)
    scratch.write(V2, "insert into public.things values (1);\n")
    env = {**os.environ, "OPSDB_ROOT": str(scratch.root)}
    with psycopg.connect(empty_database_url) as holder, psycopg.connect(empty_database_url, autocommit=True) as watch:
        holder.execute("lock table public.things in access exclusive mode")
        runner = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "migrate", "--database-url", empty_database_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Wait until the runner's file waits on our lock, then kill the runner for real.
        deadline = time.monotonic() + 60
        while not scalar(
            watch,
            "select exists (select from pg_stat_activity where wait_event_type = 'Lock'"
            " and query like 'insert into public.things%%')"
        ):
            assert time.monotonic() < deadline, "the runner never reached the locked table"
            time.sleep(0.05)
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        assert _deployments(empty_database_url)[-1]["outcome"] == "running"
        holder.rollback()
    lines: list[str] = []

    migrate(empty_database_url, scratch.db, out=lines.append)

    _, killed, next_one = _deployments(empty_database_url)
    assert (killed["outcome"], killed["files"]) == ("interrupted", [])
    assert killed["finished_at"] is not None and "killed or disconnected" in killed["error"]
    assert (next_one["outcome"], next_one["files"]) == ("succeeded", [V2])
    assert f"deployment #{killed['id']} was interrupted after 0 file(s): marked interrupted" in lines


def test_dry_run_says_whether_the_destructive_migration_would_go(scratch: ScratchProject, deployer_url: str) -> None:
    scratch.write(V1, "create table public.things (id bigint primary key);\n")
    migrate(deployer_url, scratch.db, out=_quiet)
    scratch.write(DROP, "-- opsdb:destructive things moved elsewhere\ndrop table public.things;\n")
    lines: list[str] = []

    migrate(deployer_url, scratch.db, dry_run=True, out=lines.append)
    migrate(deployer_url, scratch.db, dry_run=True, backup=Path("/nowhere/b.dump"), out=lines.append)

    assert lines == [
        f"would apply versioned {DROP}",
        "would take a restore point first: WAL position and time, no named point, WAL not archived",
        f"would refuse: destructive migration db/{DROP} needs a restorable restore point (--backup FILE)",
        f"would apply versioned {DROP}",
        "would take a restore point first: WAL position and time, no named point, WAL not archived,"
        " a pg_dump to /nowhere/b.dump",
    ]
    assert len(_deployments(deployer_url)) == 1
