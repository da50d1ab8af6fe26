"""Install the Supabase compatibility layer on a plain PostgreSQL database.

Real Supabase already has ``auth``, the API roles and Vault: there the layer is
skipped, so it can never shadow Supabase's own objects.
"""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg import sql

from harness.migrate import LOCK_KEY

VAULT_KEY_FILE = "opsdb_vault.key"


def has_supabase_objects(conn: psycopg.Connection) -> bool:
    # A plain query on pg_namespace (not to_regnamespace, which may answer from a
    # stale cache after waiting on the advisory lock) sees a concurrent install.
    row = conn.execute("select exists (select from pg_catalog.pg_namespace where nspname = 'auth')").fetchone()
    return bool(row and row[0])


def is_compat_layer(conn: psycopg.Connection) -> bool:
    """True when the auth schema is ours (installed by this layer), not Supabase's."""
    row = conn.execute("select coalesce(obj_description(to_regnamespace('auth'), 'pg_namespace'), '')").fetchone()
    return bool(row and row[0].startswith("opsdb Supabase compatibility layer"))


def _ensure_vault_key(conn: psycopg.Connection) -> None:
    """Write a random key into the server's data directory unless one exists.

    The key stays outside every table: it is a file only the server's OS user
    reads, through a superuser-owned definer function.
    """
    # pg_stat_file's record always has a null field on Linux: test one column.
    exists = conn.execute("select (pg_stat_file(%s, true)).size is not null", (VAULT_KEY_FILE,)).fetchone()
    if exists and exists[0]:
        return
    row = conn.execute("select current_setting('data_directory')").fetchone()
    assert row is not None
    target = f"{row[0]}/{VAULT_KEY_FILE}"
    conn.execute(
        sql.SQL("copy (select encode(extensions.gen_random_bytes(32), 'hex')) to {}").format(sql.Literal(target))
    )


def _source(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_text().encode()


def install(conn: psycopg.Connection) -> bool:
    """Install the layer in one transaction; return False when Supabase's objects exist."""
    with conn.transaction():
        # Same lock as the migration runner: two installers never race on `create schema auth`.
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        if has_supabase_objects(conn):
            return False
        conn.execute(_source("supabase.sql"))
        _ensure_vault_key(conn)
        conn.execute(_source("vault_writers.sql"))
    return True


def upgrade(conn: psycopg.Connection) -> bool:
    """Bring an installed layer's Vault up to date in one transaction (vault_writers.sql).

    Re-creates the Vault's writers and re-encrypts secrets still in the stretched
    form. Returns False, touching nothing, when the layer is not ours (real Supabase).
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        if not is_compat_layer(conn):
            return False
        conn.execute(_source("vault_writers.sql"))
    return True
