"""Migration 20261203150000 drops superseded function versions, and only those."""

from __future__ import annotations

import psycopg

from harness import project

MIGRATION = project.db_dir() / "migrations/20261203150000_drop_superseded_functions.sql"


def _exists(db: psycopg.Connection, signature: str) -> bool:
    row = db.execute("select to_regprocedure(%s) is not null", (signature,)).fetchone()
    return bool(row and row[0])


def test_old_versions_go_current_ones_and_those_a_trigger_still_calls_stay(db: psycopg.Connection) -> None:
    db.execute(
        """
        create function private._run_retention_cleanup() returns jsonb language sql as 'select null::jsonb';
        create function private.tg_connectors__audit_activation() returns trigger language plpgsql
            as 'begin return new; end';
        create function private.tg_audit_logs__append_only() returns trigger language plpgsql
            as 'begin return new; end';
        create trigger tg_old before update on public.plans
            for each row execute function private.tg_audit_logs__append_only();
        drop function private.generate_all_billing_line_items(date);
        create function private.generate_all_billing_line_items(period_start date) returns integer
            language sql as 'select 0';
        """
    )

    db.execute(MIGRATION.read_text())

    assert not _exists(db, "private._run_retention_cleanup()")
    assert not _exists(db, "private.tg_connectors__audit_activation()")
    assert not _exists(db, "private.generate_all_billing_line_items(date)")
    assert _exists(db, "private.tg_audit_logs__append_only()")
    # The resolvers' current versions return one record: they stay.
    assert _exists(db, "private.resolve_agent_number(text, text)")
    assert _exists(db, "private.resolve_channel(text, text)")


def test_on_a_current_database_it_changes_nothing(db: psycopg.Connection) -> None:
    def functions() -> list[tuple[str, str]]:
        return db.execute(
            "select p.oid::regprocedure::text, pg_get_functiondef(p.oid) from pg_proc as p"
            " where p.pronamespace = 'private'::regnamespace order by 1"
        ).fetchall()

    before = functions()

    db.execute(MIGRATION.read_text())

    assert functions() == before
