"""docs/scaling.md's claim for Citus, checked: every tenant table (a table with a
workspace_id column, in public or private) carries workspace_id in its primary key
or in a unique key (a unique constraint or a unique, non-partial index), or the
document names it as an exception, and names no table that has such a key."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from harness import project

SECTION = "### Tenant tables without `workspace_id` in a key"


def _documented_exceptions() -> set[str]:
    text = (Path(project.db_dir()).parent / "docs" / "scaling.md").read_text()
    assert SECTION in text, f"docs/scaling.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([a-z_.]+)` \|", section, flags=re.MULTILINE))


def _tables_without_workspace_key(db: psycopg.Connection) -> set[str]:
    rows = db.execute(
        """
        select case when n.nspname = 'public' then c.relname else n.nspname || '.' || c.relname end
        from pg_catalog.pg_class as c
        join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        join pg_catalog.pg_attribute as a on a.attrelid = c.oid and a.attname = 'workspace_id' and not a.attisdropped
        where n.nspname in ('public', 'private') and c.relkind in ('r', 'p')
            and not exists (
                select from pg_catalog.pg_index as i
                where i.indrelid = c.oid and i.indisunique and i.indpred is null and a.attnum = any(i.indkey)
            )
        """
    ).fetchall()
    return {r[0] for r in rows}


def test_every_tenant_table_has_workspace_id_in_a_key_or_is_a_named_exception(db: psycopg.Connection) -> None:
    assert _tables_without_workspace_key(db) == _documented_exceptions()


def test_the_check_sees_a_tenant_table_without_a_workspace_key(db: psycopg.Connection) -> None:
    db.execute("create table private.citus_probe (id bigint primary key, workspace_id uuid not null)")
    db.execute("create table private.citus_probe_keyed (workspace_id uuid, id bigint, primary key (workspace_id, id))")
    found = _tables_without_workspace_key(db)
    assert "private.citus_probe" in found
    assert "private.citus_probe_keyed" not in found
