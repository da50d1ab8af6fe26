"""The RLS matrix: every table in public x seven actors x four commands.

Rows live in ``tests/security/rls_matrix/<domain>.py`` (format: ``spec.py``).
A table in ``public`` without a row fails ``test_every_public_table_has_a_matrix_row``.
"""

from __future__ import annotations

import importlib
import pkgutil

import psycopg
import pytest

from tests.security import rls_matrix
from tests.security.rls_matrix.spec import ACTORS, COMMANDS, Table, World, probe


def load_tables() -> dict[str, Table]:
    tables: dict[str, Table] = {}
    owners: dict[str, str] = {}
    for module_info in sorted(pkgutil.iter_modules(rls_matrix.__path__), key=lambda m: m.name):
        if module_info.name in ("spec", "__init__") or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{rls_matrix.__name__}.{module_info.name}")
        for table in getattr(module, "TABLES", []):
            if table.name in tables:
                raise ValueError(f"{table.name} has rows in both {owners[table.name]}.py and {module_info.name}.py")
            tables[table.name] = table
            owners[table.name] = module_info.name
    return tables


TABLES = load_tables()


def test_every_public_table_has_a_matrix_row(db: psycopg.Connection) -> None:
    rows = db.execute(
        "select c.relname from pg_class as c"
        " where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') order by 1"
    ).fetchall()
    in_database = {name for (name,) in rows}
    missing = sorted(in_database - TABLES.keys())
    stale = sorted(TABLES.keys() - in_database)
    assert not missing, f"tables in public without a row in tests/security/rls_matrix/: {missing}"
    assert not stale, f"matrix rows for tables that do not exist: {stale}"


@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_rls_matrix(db: psycopg.Connection, table_name: str) -> None:
    table = TABLES[table_name]
    world = World(db, TABLES)
    mismatches = []
    for command in COMMANDS:
        for actor in ACTORS:
            expected = table.grid[command][actor]
            got, said = probe(world, table, command, actor)
            if got != expected:
                mismatches.append(f"{command:<6} as {actor:<8}: expected {expected}, got {got} ({said})")
    assert not mismatches, f"{table_name}:\n  " + "\n  ".join(mismatches)
