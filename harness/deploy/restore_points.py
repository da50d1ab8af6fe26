"""Restore points: where to go back to if a deployment goes wrong.

Before a deployment that applies a versioned migration, the runner records:

* the WAL position (LSN) and the server's time, always. With WAL archiving on
  (Supabase's point-in-time recovery, or any server with ``archive_mode``), that
  pair is a recovery target: restore to the time, or to the LSN;
* a named restore point, ``pg_create_restore_point('opsdb_deploy_...')``, where
  the role may call it (a superuser, or a role granted EXECUTE on it): the name
  is a ``recovery_target_name`` for a self-hosted server's recovery;
* with ``--backup FILE``, a ``pg_dump -Fc`` of the whole database, readable by
  its owner only (mode 0600; it holds phone numbers and message bodies).

A restore point is *restorable* when at least one of these can bring the data
back: a backup file, a named point, or an archived WAL position. A versioned
migration marked ``-- opsdb:destructive`` is refused unless the restore point
of its run is restorable.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from harness.pgbin import find_binaries

SCHEMA = "opsdb_meta"

DDL = f"""
create table if not exists {SCHEMA}.restore_points (
    id bigint generated always as identity primary key,
    name text not null,
    taken_at timestamptz not null,
    wal_lsn pg_lsn not null,
    wal_file text,
    named boolean not null,
    not_named_because text,
    wal_archived boolean not null,
    backup_file text,
    backup_bytes bigint,
    taken_by text not null
);
comment on table {SCHEMA}.restore_points is
    'One row per restore point taken before a deployment: WAL position and time (a PITR target '
    'when WAL is archived), the named point when the role could create one, the pg_dump file when asked for.';
"""


class BackupError(RuntimeError):
    """The --backup dump could not be written; nothing was deployed."""


@dataclass(frozen=True)
class RestorePoint:
    id: int
    name: str
    taken_at: datetime
    wal_lsn: str
    wal_file: str | None
    named: bool
    not_named_because: str | None
    wal_archived: bool
    backup_file: str | None
    backup_bytes: int | None

    @property
    def restorable(self) -> bool:
        return self.named or self.wal_archived or self.backup_file is not None

    def describe(self) -> str:
        parts = [f"WAL {self.wal_lsn} at {self.taken_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"]
        parts.append(f"named point {self.name!r}" if self.named else f"no named point ({self.not_named_because})")
        parts.append("WAL archived (a PITR target)" if self.wal_archived else "WAL not archived")
        if self.backup_file:
            parts.append(f"backup {self.backup_file} ({self.backup_bytes} bytes)")
        return "; ".join(parts)


def _create_named(conn: psycopg.Connection, name: str) -> tuple[str | None, str | None]:
    """(lsn, None) when the named point was created, else (None, why not)."""
    allowed = conn.execute(
        "select has_function_privilege('pg_catalog.pg_create_restore_point(text)', 'execute')"
    ).fetchone()
    if not allowed or not allowed[0]:
        return None, f"{conn.info.user} may not call pg_create_restore_point"
    try:
        row = conn.execute("select pg_catalog.pg_create_restore_point(%s)::text", (name,)).fetchone()
    except psycopg.Error as err:
        return None, " ".join((err.diag.message_primary or str(err)).split())
    assert row is not None
    return row[0], None


def _dump(database_url: str, target: Path) -> int:
    """pg_dump -Fc into a new file created 0600; return its size. Never overwrites."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"backup file {target} already exists: choose a new name") from None
    except OSError as err:
        raise BackupError(f"cannot create backup file {target}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as sink:
            result = subprocess.run(
                [find_binaries().path("pg_dump"), "--format=custom", "--dbname", database_url],
                stdout=sink,
                stderr=subprocess.PIPE,
                text=False,
            )
        if result.returncode != 0:
            raise BackupError("pg_dump failed: " + " ".join(result.stderr.decode(errors="replace").split()))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def take(conn: psycopg.Connection, database_url: str, *, who: str, backup: Path | None = None) -> RestorePoint:
    """Take and record a restore point (``conn`` in autocommit, history schema present)."""
    name = f"opsdb_deploy_{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}"
    backup_bytes = _dump(database_url, backup) if backup is not None else None
    lsn, not_named = _create_named(conn, name)
    row = conn.execute(
        "select now(), coalesce(%s::pg_lsn, pg_catalog.pg_current_wal_lsn()),"
        " current_setting('archive_mode') in ('on', 'always')",
        (lsn,),
    ).fetchone()
    assert row is not None
    taken_at, wal_lsn, archived = row
    try:
        wal_file_row = conn.execute("select pg_catalog.pg_walfile_name(%s)", (wal_lsn,)).fetchone()
        wal_file = wal_file_row[0] if wal_file_row else None
    except psycopg.Error:  # a standby has no current WAL file name
        wal_file = None
    inserted = conn.execute(
        f"insert into {SCHEMA}.restore_points"
        " (name, taken_at, wal_lsn, wal_file, named, not_named_because, wal_archived, backup_file, backup_bytes,"
        " taken_by) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
        (
            name,
            taken_at,
            wal_lsn,
            wal_file,
            lsn is not None,
            not_named,
            archived,
            str(backup.resolve()) if backup is not None else None,
            backup_bytes,
            who,
        ),
    ).fetchone()
    assert inserted is not None
    return RestorePoint(
        id=inserted[0],
        name=name,
        taken_at=taken_at,
        wal_lsn=str(wal_lsn),
        wal_file=wal_file,
        named=lsn is not None,
        not_named_because=not_named,
        wal_archived=archived,
        backup_file=str(backup.resolve()) if backup is not None else None,
        backup_bytes=backup_bytes,
    )


def preview(conn: psycopg.Connection, backup: Path | None) -> tuple[bool, str]:
    """Whether a restore point taken now would be restorable, and what it would hold (changes nothing)."""
    row = conn.execute(
        "select has_function_privilege('pg_catalog.pg_create_restore_point(text)', 'execute'),"
        " current_setting('wal_level') <> 'minimal' and not pg_catalog.pg_is_in_recovery(),"
        " current_setting('archive_mode') in ('on', 'always')"
    ).fetchone()
    assert row is not None
    named = bool(row[0] and row[1])
    parts = [
        "WAL position and time",
        "a named point" if named else "no named point",
        f"WAL {'' if row[2] else 'not '}archived",
    ]
    if backup is not None:
        parts.append(f"a pg_dump to {backup}")
    return named or bool(row[2]) or backup is not None, ", ".join(parts)


def get(conn: psycopg.Connection, point_id: int) -> RestorePoint | None:
    row = conn.execute(
        f"select id, name, taken_at, wal_lsn::text, wal_file, named, not_named_because, wal_archived, backup_file,"
        f" backup_bytes from {SCHEMA}.restore_points where id = %s",
        (point_id,),
    ).fetchone()
    return RestorePoint(*row) if row else None
