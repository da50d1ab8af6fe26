"""Orphans (objects no file defines) and the documented code rollback to the known-good commit."""

from __future__ import annotations

import psycopg
import pytest

from harness import project
from harness.deploy import deployments, orphans
from harness.cli import main
from harness.migrate import migrate
from tests.support.scratch import git
from tests.support.scratch import ScratchProject


def _quiet(_line: str) -> None:
    pass


def test_the_migrated_project_leaves_no_orphan(db: psycopg.Connection) -> None:
    assert orphans.find(db, project.db_dir()) == []


def test_objects_no_file_defines_are_orphans_each_with_its_drop_statement(
    db: psycopg.Connection, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db.execute(
        """
        create function private.stray(n integer) returns integer language sql as 'select n';
        create function private.job_run_start(job_name text) returns bigint language sql as 'select 1::bigint';
        create policy "Stray policy" on public.plans for select to authenticated using (true);
        create function private.tg_stray() returns trigger language plpgsql as 'begin return new; end';
        create trigger tg_stray before insert on public.plans for each row execute function private.tg_stray();
        create table private.stray_table (id bigint);
        create view private.stray_view with (security_invoker = true) as select 1 as one;
        create type private.stray_kind as enum ('a');
        """
    )

    found = {(o.kind, o.name): o.drop for o in orphans.find(db, project.db_dir())}

    assert found == {
        ("function", "private.stray(integer)"): "drop function private.stray(integer);",
        # A changed argument list leaves the old overload behind: it is an orphan too.
        ("function", "private.job_run_start(text)"): "drop function private.job_run_start(text);",
        ("function", "private.tg_stray()"): "drop function private.tg_stray();",
        ("trigger", "tg_stray on public.plans"): 'drop trigger "tg_stray" on public.plans;',
        ("policy", '"Stray policy" on public.plans'): 'drop policy "Stray policy" on public.plans;',
        ("table", "private.stray_table"): "drop table private.stray_table;",
        ("view", "private.stray_view"): "drop view private.stray_view;",
        ("type", "private.stray_kind"): "drop type private.stray_kind;",
    }
    assert main(["verify", "--database-url", db_url]) == 1
    err = capsys.readouterr().err
    assert "orphan: function private.stray(integer) (no file defines it" in err
    assert err.strip().splitlines()[-1].startswith("opsdb verify: 8 orphan(s)")
    assert main(["status", "--database-url", db_url]) == 0
    assert 'ORPHAN   policy "Stray policy" on public.plans' in capsys.readouterr().out


def test_rolling_the_code_back_to_the_known_good_commit_then_dropping_the_orphan(
    git_scratch: ScratchProject, empty_database_url: str
) -> None:
    # The README's rollback, step by step, on a project of its own.
    root = git_scratch.root
    git_scratch.write("policies/none.sql", "select 1;\n")
    git_scratch.write("cron/none.sql", "select 1;\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "good")
    good = git(root, "rev-parse", "HEAD")
    assert git_scratch.opsdb("migrate", database_url=empty_database_url).returncode == 0
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert deployments.mark_known_good(conn, "auditor") == 1
    git_scratch.write(
        "functions/answer.sql", "create or replace function public.answer() returns int language sql as $$select 2$$;\n"
    )
    git_scratch.write(
        "functions/extra.sql", "create function public.extra() returns int language sql as $$select 3$$;\n"
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bad")
    assert git_scratch.opsdb("migrate", database_url=empty_database_url).returncode == 0

    status = git_scratch.opsdb("status", database_url=empty_database_url).stdout
    assert f"git restore --source {good} -- db/functions db/policies db/cron" in status
    git(root, "restore", "--source", good, "--", "db/functions", "db/policies", "db/cron")
    assert git_scratch.opsdb("migrate", database_url=empty_database_url).returncode == 0

    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("select public.answer()").fetchone() == (1,)
    verify = git_scratch.opsdb("verify", database_url=empty_database_url)
    assert verify.returncode == 1
    assert "orphan: function public.extra() (no file defines it; remove it in a versioned migration: " in verify.stderr
    git_scratch.write(
        "migrations/20260105000000_drop_extra.sql",
        "-- opsdb:destructive extra was rolled back\ndrop function public.extra();\n",
    )
    assert git_scratch.opsdb("migrate", database_url=empty_database_url).returncode == 0
    assert git_scratch.opsdb("verify", database_url=empty_database_url).returncode == 0


def test_a_removed_function_file_leaves_an_orphan_that_a_versioned_migration_removes(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write("functions/f.sql", "create function public.f(a int, out b int) language sql as $$select a$$;\n")
    scratch.write("functions/g.sql", "create function public.g() returns int language sql as $$select 1$$;\n")
    migrate(empty_database_url, scratch.db, out=_quiet)
    (scratch.db / "functions/g.sql").unlink()

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        [orphan] = orphans.find(conn, scratch.db)
    assert orphan.drop == "drop function public.g();"
    scratch.write("migrations/20260105000000_drop_g.sql", f"-- opsdb:destructive g is retired\n{orphan.drop}\n")
    migrate(empty_database_url, scratch.db, out=_quiet)

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert orphans.find(conn, scratch.db) == []


def test_a_cron_job_no_cron_file_schedules_is_an_orphan(db: psycopg.Connection) -> None:
    # As cron.schedule records it in the database pg_cron runs in (this one, here).
    db.execute(
        "insert into cron.job (schedule, command, nodename, nodeport, database, username, jobname)"
        " values ('0 0 1 1 *', 'select 1', 'localhost', 5432, current_database(), current_user, 'stray-job')"
    )

    found = orphans.find(db, project.db_dir())

    assert [(o.kind, o.name, o.drop) for o in found] == [
        ("cron job", "stray-job", "select cron.unschedule('stray-job');")
    ]
