"""The migration runner: versioned files once, in order; re-applied folders on change.

Layout (relative to ``db/``):

* ``migrations/YYYYMMDDHHMMSS_name.sql``: applied once, in version order, never edited.
* ``functions/``, ``policies/``, ``cron/``: re-applied, in that order and by path
  within each, whenever the file's checksum changes; written to be idempotent.

``*.sql.j2`` files are rendered with jinja2 first, with the public API's
declarations (``db/api.toml``) as ``api``; the checksum is taken of the
rendered SQL, so a change to a template's output re-applies it. Each file runs in
one transaction with its history row, under a session advisory lock, so two
runners against one database serialize instead of interleaving.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import psycopg

from harness import api_declarations, pgcron
from harness.deploy import deployments
from harness.progress import heartbeat
from harness.sqlsplit import Statement, split

REAPPLIED_KINDS = ("functions", "policies", "cron")
VERSIONED_NAME = re.compile(r"^(\d{14})_[a-z0-9_]+\.sql(\.j2)?$")
NO_TRANSACTION = "-- opsdb:no-transaction"
DESTRUCTIVE = "-- opsdb:destructive"
# Arbitrary constant: every opsdb runner, on any host, contends for this one lock.
LOCK_KEY = 0x0DB5_0001
HISTORY_SCHEMA = "opsdb_meta"

HISTORY_DDL = f"""
create schema if not exists {HISTORY_SCHEMA};
comment on schema {HISTORY_SCHEMA} is 'opsdb migration history; not exposed through the API.';
create table if not exists {HISTORY_SCHEMA}.schema_history (
    file text primary key,
    kind text not null check (kind in ('versioned', 'functions', 'policies', 'cron')),
    checksum text not null,
    applied_at timestamptz not null default now(),
    duration_ms numeric not null,
    applied_by text not null
);
comment on table {HISTORY_SCHEMA}.schema_history is
    'One row per applied file: the checksum of what ran last, when, how long, and by whom.';
revoke all on schema {HISTORY_SCHEMA} from public;
"""

Out = Callable[[str], None]


class MigrationError(RuntimeError):
    """A file failed; nothing of it was kept."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        location = f"{file}:{line}" if line else file
        super().__init__(f"{location}: {message}")


class DriftError(RuntimeError):
    """An applied versioned file was edited or removed."""


@dataclass(frozen=True)
class SqlFile:
    kind: str  # 'versioned' or one of REAPPLIED_KINDS
    name: str  # path relative to db/, the history key
    sql: str  # rendered text
    checksum: str

    @property
    def no_transaction(self) -> bool:
        return self.sql.lstrip().startswith(NO_TRANSACTION)

    @property
    def destructive_reason(self) -> str | None:
        first = self.sql.lstrip().splitlines()[0] if self.sql.strip() else ""
        if first.startswith(DESTRUCTIVE):
            return first[len(DESTRUCTIVE) :].strip() or None
        return None


@dataclass
class Plan:
    to_apply: list[SqlFile] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)  # drift: versioned file changed after apply
    missing: list[str] = field(default_factory=list)  # drift: versioned file gone after apply
    changed: list[str] = field(default_factory=list)  # re-applied files whose checksum differs from the last run
    unscheduled: list[str] = field(default_factory=list)  # cron files applied before, whose jobs cron.job lacks
    waiting: list[SqlFile] = field(default_factory=list)  # cron files held back: no pg_cron in this database

    def label(self, f: SqlFile) -> str:
        """How a file in ``to_apply`` is described: pending (never applied), changed or unscheduled."""
        if f.name in self.unscheduled:
            return "unscheduled"
        return "changed" if f.name in self.changed else "pending"

    @property
    def drift(self) -> list[str]:
        return [f"{name} (edited after it was applied)" for name in self.edited] + [
            f"{name} (applied, but the file is gone)" for name in self.missing
        ]


class _Loader(jinja2.FileSystemLoader):
    """Templates of a db/ folder, compiled again when their text changed (not their modification
    time, which two quick writes can share)."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, _ = super().get_source(environment, template)
        assert filename is not None

        def uptodate() -> bool:
            try:
                return Path(filename).read_text() == source
            except OSError:
                return False

        return source, filename, uptodate


@dataclass
class Templates:
    """The Jinja environment of one db/ folder, kept for the process (:func:`templates_for`): the
    macro files and templates are compiled once and again only when their text changes, and
    db/api.toml is parsed again only when its text changes."""

    db_dir: Path
    env: jinja2.Environment = field(init=False)
    _api: Any = field(init=False, default=None)
    _api_text: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.env = jinja2.Environment(
            loader=_Loader(str(self.db_dir)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            # A block tag's own line leaves nothing behind in the SQL.
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # SQL, not HTML; templates quote identifiers themselves
        )

    def render(self, path: Path) -> str:
        declarations = self.db_dir / api_declarations.FILE
        text = declarations.read_text() if declarations.exists() else None
        if self._api is None or text != self._api_text:
            self._api, self._api_text = api_declarations.load(self.db_dir), text
        # Every template sees the public API's declarations as `api`.
        return self.env.get_template(path.relative_to(self.db_dir).as_posix()).render(api=self._api)


_TEMPLATES: dict[Path, Templates] = {}


def templates_for(db_dir: Path) -> Templates:
    key = db_dir.resolve()
    if key not in _TEMPLATES:
        _TEMPLATES[key] = Templates(key)
    return _TEMPLATES[key]


def render(path: Path, db_dir: Path) -> str:
    text = path.read_text()
    if path.suffix != ".j2":
        return text
    return templates_for(db_dir).render(path.resolve())


def _sql_files(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    files = [p for p in folder.rglob("*") if p.is_file() and (p.name.endswith(".sql") or p.name.endswith(".sql.j2"))]
    # Underscore-prefixed files are partials (jinja macros), never applied alone.
    return sorted((p for p in files if not p.name.startswith("_")), key=lambda p: p.as_posix())


def discover(db_dir: Path) -> list[SqlFile]:
    """Every file in apply order: versioned by version, then each re-applied folder by path."""
    found: list[SqlFile] = []
    migrations = _sql_files(db_dir / "migrations")
    for path in migrations:
        if not VERSIONED_NAME.match(path.name) or path.parent != db_dir / "migrations":
            raise MigrationError(
                path.relative_to(db_dir).as_posix(),
                None,
                "versioned files must be named db/migrations/YYYYMMDDHHMMSS_lowercase_name.sql",
            )
    for kind, paths in [("versioned", migrations)] + [(k, _sql_files(db_dir / k)) for k in REAPPLIED_KINDS]:
        for path in paths:
            sql = render(path, db_dir)
            found.append(
                SqlFile(
                    kind=kind,
                    name=path.relative_to(db_dir).as_posix(),
                    sql=sql,
                    checksum=hashlib.sha256(sql.encode()).hexdigest(),
                )
            )
    versions = [f.name.split("/")[-1][:14] for f in found if f.kind == "versioned"]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise MigrationError("db/migrations", None, f"two versioned files share version {', '.join(duplicates)}")
    return found


def history(conn: psycopg.Connection) -> dict[str, str]:
    """Applied files and their checksums; empty when the history table does not exist yet."""
    exists = conn.execute("select to_regclass(%s)", (f"{HISTORY_SCHEMA}.schema_history",)).fetchone()
    if not exists or exists[0] is None:
        return {}
    rows = conn.execute(f"select file, checksum from {HISTORY_SCHEMA}.schema_history").fetchall()
    return {file: checksum for file, checksum in rows}


def make_plan(files: list[SqlFile], applied: dict[str, str]) -> Plan:
    plan = Plan()
    on_disk = {f.name for f in files}
    for f in files:
        previous = applied.get(f.name)
        if previous is None:
            plan.to_apply.append(f)
        elif previous != f.checksum:
            if f.kind == "versioned":
                plan.edited.append(f.name)
            else:
                plan.to_apply.append(f)
                plan.changed.append(f.name)
        else:
            plan.applied.append(f.name)
    plan.missing = sorted(
        name for name in applied if name.startswith("migrations/") and name not in on_disk
    )
    return plan


def hold_cron_files(conn: psycopg.Connection, plan: Plan, files: list[SqlFile]) -> None:
    """Make the plan's cron files follow pg_cron's state in the database (see :mod:`harness.pgcron`).

    A cron file that schedules jobs waits without pg_cron (neither applied nor
    recorded, so a later migrate schedules them); with pg_cron, an applied cron
    file whose jobs are missing from cron.job is due again.
    """
    cron_files = [f for f in files if f.kind == "cron" and pgcron.job_names(f.sql)]
    if not cron_files:
        return
    if not pgcron.installed(conn):
        plan.waiting = cron_files
        held = {f.name for f in cron_files}
        plan.to_apply = [f for f in plan.to_apply if f.name not in held]
        plan.applied = [name for name in plan.applied if name not in held]
        return
    applied = [(f.name, f.sql) for f in cron_files if f.name in plan.applied]
    plan.unscheduled = pgcron.unscheduled(conn, applied)
    if plan.unscheduled:
        plan.applied = [name for name in plan.applied if name not in plan.unscheduled]
        due = {f.name for f in plan.to_apply} | set(plan.unscheduled)
        plan.to_apply = [f for f in files if f.name in due]


def _cron_warnings(conn: psycopg.Connection, plan: Plan, files: list[SqlFile], out: Out) -> None:
    if plan.waiting:
        out(f"WARNING: {len(plan.waiting)} cron file(s) not applied: {pgcron.absence_advice(pgcron.facts(conn))}")
        return
    names = [job for f in files if f.kind == "cron" for job in pgcron.job_names(f.sql)]
    for problem in pgcron.connection_problems(conn, names):
        out(f"WARNING: {problem}")


def _who(conn: psycopg.Connection) -> str:
    return f"{conn.info.user} ({getpass.getuser()}@{socket.gethostname()})"


def _error_line(stmt: Statement, err: psycopg.Error) -> int:
    position = err.diag.statement_position
    if position and position.isdigit():
        return stmt.line + stmt.text[: int(position) - 1].count("\n")
    return stmt.line


def _describe(err: psycopg.Error) -> str:
    parts = [f"{err.sqlstate or 'ERROR'}: {err.diag.message_primary or str(err).strip()}"]
    if err.diag.message_detail:
        parts.append(f"DETAIL: {err.diag.message_detail}")
    if err.diag.context:
        parts.append(f"CONTEXT: {err.diag.context.strip()}")
    return " | ".join(parts)


def _run_statements(conn: psycopg.Connection, f: SqlFile) -> None:
    for stmt in split(f.sql):
        try:
            conn.execute(stmt.text.encode())
        except psycopg.Error as err:
            raise MigrationError(f"db/{f.name}", _error_line(stmt, err), _describe(err)) from err


def apply_file(
    conn: psycopg.Connection, f: SqlFile, who: str, on_applied: Callable[[psycopg.Connection], None] | None = None
) -> float:
    """Apply one file and record it; return the duration in ms. Rolls back whole on error.

    ``on_applied`` runs in the file's transaction, after its history row (the deployment's file list).
    """
    started = time.perf_counter()
    record = (
        f"insert into {HISTORY_SCHEMA}.schema_history (file, kind, checksum, duration_ms, applied_by)"
        " values (%s, %s, %s, %s, %s)"
        " on conflict (file) do update set checksum = excluded.checksum, applied_at = now(),"
        " duration_ms = excluded.duration_ms, applied_by = excluded.applied_by"
    )

    def run_and_record() -> float:
        _run_statements(conn, f)
        elapsed = (time.perf_counter() - started) * 1000
        conn.execute(record, (f.name, f.kind, f.checksum, round(elapsed, 1), who))
        if on_applied:
            on_applied(conn)
        return elapsed

    if f.no_transaction:
        return run_and_record()
    with conn.transaction():
        if f.kind == "functions":
            # Functions may call functions from files later in path order.
            conn.execute("set local check_function_bodies = off")
        return run_and_record()


def migrate(
    database_url: str, db_dir: Path, *, dry_run: bool = False, backup: Path | None = None, out: Out = print
) -> Plan:
    """Apply what is pending. Refuses to run when an applied versioned file drifted.

    A run that applies something is recorded as a deployment, with a restore point
    taken first when it applies a versioned file (see :mod:`harness.deploy.deployments`).
    """
    files = discover(db_dir)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.add_notice_handler(lambda _notice: None)
        if dry_run:
            plan = make_plan(files, history(conn))
            _check_drift(plan)
            if pgcron.facts(conn).creatable and not pgcron.installed(conn):
                out("would create extension pg_cron (cron.database_name is this database)")
            else:
                hold_cron_files(conn, plan, files)
            for f in plan.to_apply:
                out(f"would apply {f.kind:<9} {f.name}")
            if not plan.to_apply:
                out("nothing to apply")
            else:
                deployments.preview(conn, **_deployment_files(plan), backup=backup, out=out)
            _cron_warnings(conn, plan, files, out)
            return plan
        conn.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(HISTORY_DDL.encode())
            conn.execute(deployments.DDL.encode())
            deployments.close_interrupted(conn, out)
            # Read history only after taking the lock: a runner that waited sees the
            # first one's work and applies nothing twice.
            plan = make_plan(files, history(conn))
            _check_drift(plan)
            if any(f.kind == "cron" for f in files) and pgcron.ensure_extension(conn):
                out("created extension pg_cron (cron.database_name is this database)")
            hold_cron_files(conn, plan, files)
            who = _who(conn)
            if not plan.to_apply:
                out("nothing to apply" + (": no backup written" if backup is not None else ""))
                _cron_warnings(conn, plan, files, out)
                return plan
            deployment = deployments.begin(
                conn,
                database_url,
                **_deployment_files(plan),
                root=db_dir.parent,
                who=who,
                backup=backup,
                out=out,
            )
            try:
                for number, f in enumerate(plan.to_apply, start=1):
                    with heartbeat(out, f"applying {f.name} ({number} of {len(plan.to_apply)})"):
                        elapsed = apply_file(conn, f, who, functools.partial(deployment.record_file, name=f.name))
                    out(f"applied {f.kind:<9} {f.name} ({elapsed:.0f} ms)")
            except BaseException as err:
                with contextlib.suppress(psycopg.Error):  # a lost connection cannot record; the row stays 'running'
                    deployments.finish(conn, deployment, err)
                raise
            deployments.finish(conn, deployment)
            out(f"deployment #{deployment.id} succeeded: {len(deployment.files)} file(s) applied")
            _cron_warnings(conn, plan, files, out)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
    return plan


def _deployment_files(plan: Plan) -> dict[str, Any]:
    return {
        "versioned": [f.name for f in plan.to_apply if f.kind == "versioned"],
        "destructive": [
            (f.name, f.destructive_reason) for f in plan.to_apply if f.kind == "versioned" and f.destructive_reason
        ],
    }


def _check_drift(plan: Plan) -> None:
    if plan.drift:
        raise DriftError(
            "applied versioned files changed; add a new migration instead of editing one: " + "; ".join(plan.drift)
        )


def status(database_url: str, db_dir: Path) -> Plan:
    files = discover(db_dir)
    with psycopg.connect(database_url, autocommit=True) as conn:
        plan = make_plan(files, history(conn))
        hold_cron_files(conn, plan, files)
        return plan
