"""plpgsql_check over every PL/pgSQL function: errors fail, warnings are listed."""

from __future__ import annotations

import shutil
import warnings

import psycopg

from harness import project
from harness.deploy import plpgsql_check
from tests.support.scratch import ScratchProject

BROKEN = """
create function private.broken() returns bigint language plpgsql set search_path = '' as $$
begin
    return (select count(w.no_such_column) from public.workspaces as w);
end
$$;
create function private.tg_broken() returns trigger language plpgsql set search_path = '' as $$
begin
    new.no_such_column := 1;
    return new;
end
$$;
create trigger tg_broken before insert on public.plans for each row execute function private.tg_broken();
"""


def test_every_plpgsql_function_of_the_project_passes(db: psycopg.Connection, db_url: str) -> None:
    functions = db.execute(
        "select count(*) from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace"
        " where p.prolang = (select oid from pg_language where lanname = 'plpgsql')"
        " and n.nspname in ('public', 'private')"
    ).fetchone()
    assert functions is not None and functions[0] > 50

    problems = plpgsql_check.check(db_url)

    assert [str(p) for p in problems if p.is_error] == []
    for problem in problems:
        warnings.warn(str(problem), stacklevel=1)


def test_errors_name_the_function_the_trigger_table_and_the_line(db: psycopg.Connection, db_url: str) -> None:
    db.execute(BROKEN)

    errors = [p for p in plpgsql_check.check(db_url) if p.is_error]

    assert [(p.function, p.table, p.lineno) for p in errors] == [
        ("private.broken()", None, 3),
        ("private.tg_broken()", "public.plans", 3),
    ]
    assert "no_such_column" in errors[0].message
    # The extension was created for the check only: nothing is left behind.
    assert db.execute("select count(*) from pg_extension where extname = 'plpgsql_check'").fetchone() == (0,)


def test_lint_with_a_database_fails_on_a_plpgsql_error(
    db: psycopg.Connection, db_url: str, scratch: ScratchProject
) -> None:
    shutil.copy(project.root() / ".sqlfluff", scratch.root / ".sqlfluff")
    db.execute(BROKEN)

    clean_files = scratch.opsdb("lint", database_url=db_url)

    assert clean_files.returncode == 1
    assert "plpgsql_check error: private.broken() line 3: column w.no_such_column does not exist" in clean_files.stdout
    assert clean_files.stderr.strip().splitlines()[-1] == "opsdb lint: 2 lint problem(s)"
