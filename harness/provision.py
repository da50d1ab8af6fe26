"""Bring a database up to date: the compatibility layer when needed, then migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg

from harness import compat, preflight
from harness.migrate import Out, Plan, migrate


def provision(
    database_url: str, db_dir: Path, *, dry_run: bool = False, backup: Path | None = None, out: Out = print
) -> Plan:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for line in preflight.warnings(conn):
            out(f"WARNING: {line}")
        if compat.is_compat_layer(conn):
            if not dry_run:
                compat.upgrade(conn)
            out("Supabase compatibility layer already installed")
        elif compat.has_supabase_objects(conn):
            out("Supabase's auth schema found: compatibility layer not installed")
        elif dry_run:
            out("would install the Supabase compatibility layer (no auth schema)")
        else:
            compat.install(conn)
            out("installed the Supabase compatibility layer (no auth schema found)")
    return migrate(database_url, db_dir, dry_run=dry_run, backup=backup, out=out)
