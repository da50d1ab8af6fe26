"""``opsdb drill``: the automated restore drill.

A backup is only known to work once it has been restored. The drill does it end
to end, without touching the source:

1. Opens a REPEATABLE READ transaction on the source, exports its snapshot and
   fingerprints every table in it (row count and a checksum of the rows) and
   the schema.
2. Dumps the database with ``pg_dump --snapshot`` (the same snapshot, so the
   dump and the fingerprints see exactly the same rows, however busy the source
   is). The dump is the restore point; ``--keep-dump`` keeps it, readable by its
   owner only (it holds phone numbers and message bodies).
3. Restores the dump with ``pg_restore`` into a new database on the same server
   (``opsdb_drill_<time>``), in one transaction, stopping at the first error.
   pg_cron is left out: it can only live in the database ``cron.database_name``
   names, and its jobs are the environment's, not the data's.
4. Fingerprints the restored copy and compares: every table's rows, and the
   schema (the normalised dump of ``db/schema.sql``'s schemas, function bodies included).
5. Drops the copy (unless ``--keep-database``) and reports each step's time: the
   dump plus the restore is what a restore would cost today.

The report lists every difference; ``opsdb drill`` exits non-zero when there is one.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from harness import schema_dump
from harness.pgbin import find_binaries
from harness.progress import heartbeat, megabytes

# Schemas whose tables hold the data a restore must bring back. cron is left
# out (see above); the others belong to PostgreSQL itself.
SKIPPED_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "cron")

Out = Callable[[str], None]


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: str


@dataclass
class DrillReport:
    source: str
    restored_as: str
    dump_bytes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    tables: dict[str, Fingerprint] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Position:
    """Which table a long fingerprint is at, for the heartbeat."""

    def __init__(self) -> None:
        self.text = "listing tables"

    def __call__(self) -> str:
        return self.text


def fingerprint(conn: psycopg.Connection, position: _Position | None = None) -> dict[str, Fingerprint]:
    """Row count and checksum of every table outside the skipped schemas."""
    tables = conn.execute(
        """
        select n.nspname, c.relname
        from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and not c.relispartition
            and n.nspname <> all (%s) and n.nspname not like 'pg\\_temp%%' and n.nspname not like 'pg\\_toast%%'
        order by 1, 2
        """,
        (list(SKIPPED_SCHEMAS),),
    ).fetchall()
    found: dict[str, Fingerprint] = {}
    for number, (schema, name) in enumerate(tables, start=1):
        if position is not None:
            position.text = f"table {number} of {len(tables)}: {schema}.{name}"
        # Order-independent: a checksum of the sorted row checksums.
        row = conn.execute(
            sql.SQL(
                "select count(*), coalesce(md5(string_agg(h, '' order by h)), '')"
                " from (select md5(t::text) as h from {}.{} as t) as rows"
            ).format(sql.Identifier(schema), sql.Identifier(name))
        ).fetchone()
        assert row is not None
        found[f"{schema}.{name}"] = Fingerprint(int(row[0]), str(row[1]))
    return found


def _with_dbname(url: str, dbname: str) -> str:
    params = conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return conninfo.make_conninfo("", **params)


def _run(args: list[str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed: {' '.join(result.stderr.split())}")
    return result


def _restore_list(pg_restore: str, dump: Path, workdir: Path) -> Path:
    """pg_restore's table of contents without pg_cron's extension and schema cron's objects."""
    toc = _run([pg_restore, "--list", str(dump)], "pg_restore --list").stdout.splitlines()
    kept = []
    for line in toc:
        # "<id>; <catalog> <oid> <TYPE...> <schema> <name> <owner>": the schema is a field of its own.
        fields = line.split()
        if not line.startswith(";") and ("pg_cron" in fields or "cron" in fields):
            continue
        kept.append(line)
    listing = workdir / "restore.list"
    listing.write_text("\n".join(kept) + "\n")
    return listing


def run_drill(
    database_url: str,
    *,
    keep_dump: Path | None = None,
    keep_database: bool = False,
    out: Out = print,
    after_restore: Callable[[psycopg.Connection], object] | None = None,
) -> DrillReport:
    """Dump, restore into a new database on the same server, compare, clean up.

    ``after_restore`` runs on the restored copy before it is compared (tests use
    it to damage the copy and see the drill notice).
    """
    binaries = find_binaries()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
    copy_name = f"opsdb_drill_{stamp}"
    copy_url = _with_dbname(database_url, copy_name)
    report = DrillReport(source=str(conninfo.conninfo_to_dict(database_url).get("dbname") or ""), restored_as=copy_name)

    with tempfile.TemporaryDirectory(prefix="opsdb-drill-") as workdir:
        dump = keep_dump or Path(workdir) / "restore_point.dump"
        started = time.monotonic()
        with psycopg.connect(database_url) as source:
            source.execute("set transaction isolation level repeatable read, read only")
            row = source.execute("select pg_export_snapshot()").fetchone()
            assert row is not None
            out(f"1/4 fingerprinting every table of {report.source} on the exported snapshot (the restore point)")
            position = _Position()
            with heartbeat(out, "fingerprinting", detail=position):
                before = fingerprint(source, position)
                source_schema = schema_dump.dump(database_url, snapshot=row[0], with_bodies=True)
            # The dump holds phone numbers and message bodies: readable by its owner only.
            os.close(os.open(dump, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            os.chmod(dump, 0o600)
            out(f"2/4 dumping {report.source} with pg_dump on the same snapshot ({len(before)} tables) to {dump}")
            # The exporting transaction stays open until pg_dump has taken the snapshot (and finished).
            with heartbeat(out, "dumping", detail=lambda: megabytes(dump)):
                _run(
                    [binaries.path("pg_dump"), "--format", "custom", "--snapshot", row[0], "--file", str(dump),
                     "--dbname", database_url],
                    "pg_dump",
                )
            source.rollback()
        report.dump_bytes = dump.stat().st_size
        report.seconds["dump"] = time.monotonic() - started
        out(f"dumped {report.source} ({report.dump_bytes:,} bytes, {len(before)} tables) in {report.seconds['dump']:.1f} s")

        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(copy_name)))
        try:
            started = time.monotonic()
            out(f"3/4 restoring the dump into a new database {copy_name} with pg_restore (one transaction)")
            listing = _restore_list(binaries.path("pg_restore"), dump, Path(workdir))
            with heartbeat(out, f"restoring into {copy_name}"):
                _run(
                    [binaries.path("pg_restore"), "--exit-on-error", "--single-transaction", "--use-list",
                     str(listing), "--dbname", copy_url, str(dump)],
                    "pg_restore",
                )
            report.seconds["restore"] = time.monotonic() - started
            out(f"restored into {copy_name} in {report.seconds['restore']:.1f} s")

            started = time.monotonic()
            out(f"4/4 comparing every table of {copy_name} and its schema with the source's")
            position = _Position()
            with psycopg.connect(copy_url, autocommit=True) as copy, heartbeat(out, "comparing", detail=position):
                if after_restore is not None:
                    after_restore(copy)
                after = fingerprint(copy, position)
            report.tables = before
            for name in sorted(before.keys() | after.keys()):
                if name not in after:
                    report.problems.append(f"{name}: missing from the restored copy")
                elif name not in before:
                    report.problems.append(f"{name}: only in the restored copy")
                elif before[name] != after[name]:
                    report.problems.append(
                        f"{name}: {before[name].rows} rows in the source, {after[name].rows} restored"
                        + (" (same count, different rows)" if before[name].rows == after[name].rows else "")
                    )
            if source_schema != schema_dump.dump(copy_url, with_bodies=True):
                report.problems.append("schema: the restored public and private schemas differ from the source's")
            report.seconds["verify"] = time.monotonic() - started
            rows = sum(f.rows for f in before.values())
            out(f"compared {len(before)} tables ({rows:,} rows) and the schema in {report.seconds['verify']:.1f} s")
        finally:
            if not keep_database:
                with psycopg.connect(database_url, autocommit=True) as admin:
                    admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(copy_name)))
    return report
