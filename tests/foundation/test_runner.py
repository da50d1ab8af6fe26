"""Rules of the migration runner (harness/migrate.py), each against a real database."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest

from harness.migrate import DriftError, MigrationError, migrate, status
from tests.support.scratch import ScratchProject

V1 = "migrations/20260101000000_create_things.sql"
V2 = "migrations/20260102000000_add_colour.sql"


def _quiet(_line: str) -> None:
    return None


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema not in ('pg_catalog', 'information_schema') order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def _history(url: str) -> dict[str, tuple[str, object]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select file, checksum, applied_at from opsdb_meta.schema_history").fetchall()
    return {file: (checksum, applied_at) for file, checksum, applied_at in rows}


def test_second_migrate_applies_nothing(scratch: ScratchProject, empty_database_url: str) -> None:
    scratch.write(V1, "create table public.things (id int primary key);\n")
    scratch.write("functions/things/count_things.sql", "create or replace function public.count_things() "
                  "returns bigint language sql set search_path = '' as $$ select count(*) from public.things $$;\n")
    first = migrate(empty_database_url, scratch.db, out=_quiet)
    assert [f.name for f in first.to_apply] == [V1, "functions/things/count_things.sql"]
    before = _history(empty_database_url)

    second = migrate(empty_database_url, scratch.db, out=_quiet)

    assert second.to_apply == []
    assert _history(empty_database_url) == before


def test_versioned_files_apply_in_version_order_then_functions_policies_cron(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write(V2, "alter table public.things add column colour text;\n")
    scratch.write(V1, "create table public.things (id int primary key);\n")
    scratch.write("cron/a.sql", "select 1;\n")
    scratch.write("policies/a.sql", "select 1;\n")
    scratch.write("functions/z/b.sql", "select 1;\n")
    scratch.write("functions/a.sql", "select 1;\n")

    plan = migrate(empty_database_url, scratch.db, out=_quiet)

    assert [f.name for f in plan.to_apply] == [
        V1,
        V2,
        "functions/a.sql",
        "functions/z/b.sql",
        "policies/a.sql",
        "cron/a.sql",
    ]
    with psycopg.connect(empty_database_url) as conn:
        row = conn.execute(
            "select kind, duration_ms >= 0, applied_by like %s from opsdb_meta.schema_history where file = %s",
            (f"{conn.info.user} (%", V1),
        ).fetchone()
    assert row == ("versioned", True, True)


def test_verify_detects_an_edited_versioned_file(scratch: ScratchProject, empty_database_url: str) -> None:
    path = scratch.write(V1, "create table public.things (id int primary key);\n")
    migrate(empty_database_url, scratch.db, out=_quiet)
    assert scratch.opsdb("verify", database_url=empty_database_url).returncode == 0

    path.write_text("create table public.things (id bigint primary key);\n")

    result = scratch.opsdb("verify", database_url=empty_database_url)
    assert result.returncode != 0
    assert V1 in result.stderr and "edited" in result.stderr
    with pytest.raises(DriftError, match=V1):
        migrate(empty_database_url, scratch.db, out=_quiet)


def test_verify_detects_a_removed_versioned_file(scratch: ScratchProject, empty_database_url: str) -> None:
    path = scratch.write(V1, "create table public.things (id int primary key);\n")
    migrate(empty_database_url, scratch.db, out=_quiet)
    path.unlink()

    result = scratch.opsdb("verify", database_url=empty_database_url)

    assert result.returncode != 0
    assert V1 in result.stderr and "gone" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) > 0


def test_failing_file_rolls_back_whole_and_reports_file_and_line(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write(V1, "create table public.first (id int);\n")
    scratch.write(
        V2,
        "create table public.half_done (id int);\n"
        "insert into public.half_done values (1);\n"
        "\n"
        "insert into public.no_such_table\n"
        "values (1);\n",
    )
    scratch.write("functions/after.sql", "create table public.never (id int);\n")

    with pytest.raises(MigrationError) as caught:
        migrate(empty_database_url, scratch.db, out=_quiet)

    assert caught.value.file == f"db/{V2}"
    assert caught.value.line == 4
    assert 'relation "public.no_such_table" does not exist' in str(caught.value)
    tables = _tables(empty_database_url)
    assert "public.first" in tables
    assert "public.half_done" not in tables
    assert "public.never" not in tables
    assert set(_history(empty_database_url)) == {V1}


def test_cli_failure_is_one_line_with_file_and_line(scratch: ScratchProject, empty_database_url: str) -> None:
    scratch.write(V1, "select 1;\nselec 2;\n")

    result = scratch.opsdb("migrate", database_url=empty_database_url)

    assert result.returncode == 1
    # The target line, then the failure as one line: no traceback.
    target, reason = result.stderr.splitlines()
    assert target.startswith("opsdb migrate: target postgres@127.0.0.1:")
    assert reason.startswith(f"opsdb migrate: db/{V1}:2:")
    assert "42601" in reason


def test_two_concurrent_migrates_serialize(scratch: ScratchProject, empty_database_url: str) -> None:
    # Without the advisory lock both processes would run this file and the
    # second `create table` would fail; with it the second waits, then finds
    # the file applied.
    scratch.write(
        V1,
        "create table public.once (id int);\nselect pg_sleep(1);\ninsert into public.once values (1);\n",
    )
    env_cmd = [sys.executable, "-m", "harness.cli", "migrate", "--database-url", empty_database_url]
    import os

    env = {**os.environ, "OPSDB_ROOT": str(scratch.root)}
    started = time.monotonic()
    procs = [subprocess.Popen(env_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], outputs
    stdout = [o[0] for o in outputs]
    assert sum(f"applied versioned {V1}" in s for s in stdout) == 1
    assert sum("nothing to apply" in s for s in stdout) == 1
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("select count(*) from public.once").fetchone() == (1,)
    assert time.monotonic() - started >= 1


def test_dry_run_prints_the_plan_and_changes_nothing(scratch: ScratchProject, empty_database_url: str) -> None:
    scratch.write(V1, "create table public.things (id int primary key);\n")
    scratch.write("functions/f.sql", "select 1;\n")
    before = _tables(empty_database_url)

    result = scratch.opsdb("migrate", "--dry-run", database_url=empty_database_url)

    assert result.returncode == 0, result.stderr
    assert f"would apply versioned {V1}" in result.stdout
    assert "would apply functions functions/f.sql" in result.stdout
    assert "would install the Supabase compatibility layer" in result.stdout
    assert _tables(empty_database_url) == before
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("select to_regnamespace('opsdb_meta'), to_regnamespace('auth')").fetchone() == (
            None,
            None,
        )


def test_jinja_templates_are_rendered_before_checksum_and_apply(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write(V1, "create table public.a (id int);\ncreate table public.b (id int);\n")
    scratch.write(
        "policies/tables.sql.j2",
        "{% for t in ['a', 'b'] %}comment on table public.{{ t }} is 'rendered {{ t }}';\n{% endfor %}",
    )

    plan = migrate(empty_database_url, scratch.db, out=_quiet)

    rendered = [f for f in plan.to_apply if f.name == "policies/tables.sql.j2"][0]
    assert "{%" not in rendered.sql
    with psycopg.connect(empty_database_url) as conn:
        comments = conn.execute(
            "select obj_description('public.a'::regclass), obj_description('public.b'::regclass)"
        ).fetchone()
    assert comments == ("rendered a", "rendered b")
    import hashlib

    assert _history(empty_database_url)["policies/tables.sql.j2"][0] == hashlib.sha256(rendered.sql.encode()).hexdigest()


def test_no_transaction_marker_allows_concurrent_index(scratch: ScratchProject, empty_database_url: str) -> None:
    scratch.write(V1, "create table public.things (id int);\n")
    scratch.write(
        V2.replace("add_colour", "index_things"),
        "-- opsdb:no-transaction\ncreate index concurrently things_id_idx on public.things (id);\n",
    )

    migrate(empty_database_url, scratch.db, out=_quiet)

    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("select to_regclass('public.things_id_idx') is not null").fetchone() == (True,)


def test_without_the_marker_concurrent_index_fails_inside_the_transaction(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write(V1, "create table public.things (id int);\ncreate index concurrently i on public.things (id);\n")

    with pytest.raises(MigrationError, match="25001"):
        migrate(empty_database_url, scratch.db, out=_quiet)


def test_changed_function_file_is_reapplied_and_unchanged_one_is_not(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    body = "create or replace function public.{name}() returns int language sql set search_path = '' as $$ select {n} $$;\n"
    changed = scratch.write("functions/one.sql", body.format(name="one", n=1))
    scratch.write("functions/two.sql", body.format(name="two", n=2))
    migrate(empty_database_url, scratch.db, out=_quiet)
    before = _history(empty_database_url)

    changed.write_text(body.format(name="one", n=11))
    plan = migrate(empty_database_url, scratch.db, out=_quiet)

    assert [f.name for f in plan.to_apply] == ["functions/one.sql"]
    after = _history(empty_database_url)
    assert after["functions/two.sql"] == before["functions/two.sql"]
    assert after["functions/one.sql"][0] != before["functions/one.sql"][0]
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("select public.one(), public.two()").fetchone() == (11, 2)


def test_status_lists_applied_pending_and_changed(scratch: ScratchProject, empty_database_url: str) -> None:
    scratch.write(V1, "select 1;\n")
    fn = scratch.write("functions/f.sql", "select 1;\n")
    migrate(empty_database_url, scratch.db, out=_quiet)
    scratch.write(V2, "select 2;\n")
    fn.write_text("select 2;\n")

    plan = status(empty_database_url, scratch.db)
    result = scratch.opsdb("status", database_url=empty_database_url)

    assert plan.applied == [V1]
    assert [f.name for f in plan.to_apply] == [V2, "functions/f.sql"]
    assert f"pending  {V2}" in result.stdout
    assert "changed  functions/f.sql" in result.stdout


def test_badly_named_versioned_file_is_refused(scratch: ScratchProject, empty_database_url: str) -> None:
    scratch.write("migrations/add_things.sql", "select 1;\n")

    with pytest.raises(MigrationError, match="YYYYMMDDHHMMSS"):
        migrate(empty_database_url, scratch.db, out=_quiet)
