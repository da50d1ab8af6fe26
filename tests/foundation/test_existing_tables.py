"""A database that already holds another application's tables in public.

The compatibility layer grants the API roles nothing on them (only default
privileges, for what is created from then on, as Supabase does), and both
`opsdb migrate --dry-run` and `opsdb audit` name the tables without RLS.
"""

from __future__ import annotations

import psycopg
import pytest

from harness.cli import main

API_ROLES = ("anon", "authenticated", "service_role")


def _someone_elses_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table public.legacy_orders (id int primary key, note text)")
        conn.execute("create sequence public.legacy_order_numbers")
        conn.execute("insert into public.legacy_orders values (1, 'kept')")


def test_the_layer_grants_the_api_roles_nothing_on_tables_public_already_holds(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _someone_elses_tables(empty_database_url)

    assert main(["migrate", "--database-url", empty_database_url]) == 0

    with psycopg.connect(empty_database_url) as conn:
        for role in API_ROLES:
            row = conn.execute(
                "select has_table_privilege(%s, 'public.legacy_orders', 'select, insert, update, delete, truncate'),"
                " has_sequence_privilege(%s, 'public.legacy_order_numbers', 'usage, select, update')",
                (role, role),
            ).fetchone()
            assert row == (False, False), role
        # The project's own tables still get the API grants their migrations expect.
        assert conn.execute("select has_table_privilege('authenticated', 'public.workspaces', 'select')").fetchone() == (
            True,
        )
        assert conn.execute("select note from public.legacy_orders").fetchall() == [("kept",)]
    capsys.readouterr()


def test_migrate_dry_run_and_audit_name_public_tables_without_rls(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _someone_elses_tables(empty_database_url)

    assert main(["migrate", "--dry-run", "--database-url", empty_database_url]) == 0
    out, _ = capsys.readouterr()

    assert out.splitlines()[:2] == [
        "WARNING: public.legacy_orders has no row-level security (no API role holds a privilege on it today)",
        "WARNING: tables in public are exposed through PostgREST: enable row-level security on them "
        "(alter table ... enable row level security) or move them out of public",
    ]

    main(["migrate", "--database-url", empty_database_url])
    capsys.readouterr()
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("grant select on public.legacy_orders to anon")
    assert main(["audit", "--database-url", empty_database_url]) == 1
    out, _ = capsys.readouterr()
    rls = out.split("`rls_on_every_table`")[1].split("\n- ")[0]
    assert "  - legacy_orders (RLS disabled)" in rls
    assert "  - legacy_orders" in out.split("`anon_touches_nothing`")[1].split("\n- ")[0]
