"""Deployment records: what each ``opsdb migrate`` that changed something did.

A deployment row is written before the first file is applied and finished
after the last one: who ran it, the git commit of the checkout (and whether it
had uncommitted changes), the files applied (each added in the transaction
that applies it, so the list is exact even when a later file fails), the
outcome and the restore point taken before it. A deployment whose run then
passes ``opsdb audit`` is marked known-good: that is the commit to go back to.

Outcomes: ``running`` (in progress), ``succeeded``, ``failed`` (a file failed;
the files listed before it stay applied), ``refused`` (nothing applied: a
destructive migration without a restorable restore point) and ``interrupted``
(its runner was killed or lost its connection; the next ``opsdb migrate``, which
holds the same lock, marks it so, and the files listed stay applied).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from harness.deploy import restore_points
from harness.deploy.restore_points import RestorePoint

SCHEMA = restore_points.SCHEMA

DDL = (
    restore_points.DDL
    + f"""
create table if not exists {SCHEMA}.deployments (
    id bigint generated always as identity primary key,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    deployed_by text not null,
    git_commit text,
    git_dirty boolean,
    files text[] not null default '{{}}',
    outcome text not null default 'running'
        check (outcome in ('running', 'succeeded', 'failed', 'refused', 'interrupted')),
    error text,
    restore_point_id bigint references {SCHEMA}.restore_points (id),
    known_good_at timestamptz,
    known_good_by text
);
create index if not exists deployments_restore_point_id_idx on {SCHEMA}.deployments (restore_point_id);
comment on table {SCHEMA}.deployments is
    'One row per opsdb migrate that changed something: who, the git commit, the files applied, '
    'the outcome, the restore point taken before it, and when an audit found it good.';
"""
)

Out = Callable[[str], None]


class DeploymentRefused(RuntimeError):
    """A destructive migration without a restorable restore point: nothing was applied."""


@dataclass(frozen=True)
class GitState:
    commit: str | None
    dirty: bool | None


def git_state(root: Path) -> GitState:
    """The checkout's commit and whether it differs from it; both None outside a git checkout."""

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None

    head = git("rev-parse", "--verify", "HEAD")
    if head is None or head.returncode != 0:
        return GitState(None, None)
    changes = git("status", "--porcelain", "--untracked-files=normal")
    return GitState(head.stdout.strip(), None if changes is None else bool(changes.stdout.strip()))


@dataclass
class Deployment:
    id: int
    restore_point: RestorePoint | None
    files: list[str] = field(default_factory=list)

    def record_file(self, conn: psycopg.Connection, name: str) -> None:
        """Add an applied file; called inside the file's own transaction."""
        conn.execute(f"update {SCHEMA}.deployments set files = files || %s where id = %s", ([name], self.id))
        self.files.append(name)


def begin(
    conn: psycopg.Connection,
    database_url: str,
    *,
    versioned: list[str],
    destructive: list[tuple[str, str]],
    root: Path,
    who: str,
    backup: Path | None,
    out: Out,
) -> Deployment:
    """Take the restore point (when a versioned file or a backup is due) and open the deployment row.

    Raises :class:`DeploymentRefused`, after recording the refusal, when a
    destructive migration is due and the restore point is not restorable.
    """
    git = git_state(root)
    point = None
    if versioned or backup is not None:
        point = restore_points.take(conn, database_url, who=who, backup=backup)
        out(f"restore point #{point.id}: {point.describe()}")
    refusal = None
    if destructive and (point is None or not point.restorable):
        files = ", ".join(f"db/{name}" for name, _ in destructive)
        refusal = (
            f"refused: destructive migration {files} needs a restore point that can bring the data back, and this"
            " run has none (no named point, WAL not archived): run it again with --backup FILE"
        )
    row = conn.execute(
        f"insert into {SCHEMA}.deployments (deployed_by, git_commit, git_dirty, restore_point_id, outcome, error,"
        " finished_at) values (%s, %s, %s, %s, %s, %s, case when %s then clock_timestamp() end) returning id",
        (
            who,
            git.commit,
            git.dirty,
            point.id if point else None,
            "refused" if refusal else "running",
            refusal,
            refusal is not None,
        ),
    ).fetchone()
    assert row is not None
    if refusal:
        raise DeploymentRefused(refusal)
    commit = f"{git.commit[:12]}{' (uncommitted changes)' if git.dirty else ''}" if git.commit else "not a git checkout"
    out(f"deployment #{row[0]} started by {who}, commit {commit}")
    for name, reason in destructive:
        out(f"destructive migration db/{name}: {reason}")
    return Deployment(id=row[0], restore_point=point)


def close_interrupted(conn: psycopg.Connection, out: Out) -> None:
    """Mark deployments left running by a dead runner (call while holding the runner's lock)."""
    rows = conn.execute(
        f"update {SCHEMA}.deployments set outcome = 'interrupted', finished_at = clock_timestamp(),"
        " error = 'the runner stopped before finishing (killed or disconnected); the files listed were applied'"
        " where outcome = 'running' returning id, cardinality(files)"
    ).fetchall()
    for deployment_id, applied in sorted(rows):
        out(f"deployment #{deployment_id} was interrupted after {applied} file(s): marked interrupted")


def preview(
    conn: psycopg.Connection, *, versioned: list[str], destructive: list[tuple[str, str]], backup: Path | None, out: Out
) -> None:
    """What ``begin`` would do, for ``--dry-run``."""
    if not versioned and backup is None:
        out("no restore point: only re-applied files would change")
        return
    restorable, what = restore_points.preview(conn, backup)
    out(f"would take a restore point first: {what}")
    if destructive and not restorable:
        out(
            f"would refuse: destructive migration db/{destructive[0][0]}"
            " needs a restorable restore point (--backup FILE)"
        )


def finish(conn: psycopg.Connection, deployment: Deployment, error: BaseException | None = None) -> None:
    message = None if error is None else (" ".join(str(error).split()) or type(error).__name__)
    conn.execute(
        f"update {SCHEMA}.deployments set finished_at = clock_timestamp(), outcome = %s, error = %s where id = %s",
        ("failed" if error is not None else "succeeded", message, deployment.id),
    )


def _exists(conn: psycopg.Connection) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (f"{SCHEMA}.deployments",)).fetchone()
    return bool(row and row[0])


def mark_known_good(conn: psycopg.Connection, who: str) -> int | None:
    """Mark the last deployment known-good when it succeeded; return its id (None when there is none to mark)."""
    if not _exists(conn):
        return None
    row = conn.execute(
        f"""
        update {SCHEMA}.deployments
        set known_good_at = coalesce(known_good_at, clock_timestamp()), known_good_by = coalesce(known_good_by, %s)
        where id = (select max(id) from {SCHEMA}.deployments where outcome <> 'refused')
            and outcome = 'succeeded'
        returning id
        """,
        (who,),
    ).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class Record:
    id: int
    started_at: datetime
    finished_at: datetime | None
    deployed_by: str
    git_commit: str | None
    git_dirty: bool | None
    files: list[str]
    outcome: str
    error: str | None
    known_good_at: datetime | None
    restore_point: RestorePoint | None

    def line(self) -> str:
        when = f"{self.started_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
        commit = (self.git_commit[:12] + ("+dirty" if self.git_dirty else "")) if self.git_commit else "no commit"
        good = "  KNOWN-GOOD" if self.known_good_at else ""
        text = f"#{self.id} {when} {self.outcome:<9} {commit} {len(self.files)} file(s) by {self.deployed_by}{good}"
        if self.error:
            text += f"\n    error: {self.error}"
        if self.restore_point:
            text += f"\n    restore point #{self.restore_point.id}: {self.restore_point.describe()}"
        return text


def records(conn: psycopg.Connection, *, limit: int | None = None, known_good: bool = False) -> list[Record]:
    """Deployments, newest first."""
    if not _exists(conn):
        return []
    rows = conn.execute(
        f"select id, started_at, finished_at, deployed_by, git_commit, git_dirty, files, outcome, error,"
        f" known_good_at, restore_point_id from {SCHEMA}.deployments"
        f" where %s is false or known_good_at is not null order by id desc limit %s",
        (known_good, limit),
    ).fetchall()
    return [
        Record(
            id_, started_at, finished_at, deployed_by, git_commit, git_dirty, files, outcome, error, known_good_at,
            restore_points.get(conn, restore_point_id) if restore_point_id else None,
        )
        for (
            id_, started_at, finished_at, deployed_by, git_commit, git_dirty, files, outcome, error, known_good_at,
            restore_point_id,
        ) in rows
    ]


def status_lines(conn: psycopg.Connection) -> list[str]:
    """The last deployment and the last known-good one, for ``opsdb status``."""
    last = records(conn, limit=1)
    good = records(conn, limit=1, known_good=True)
    lines = [f"last deployment   {last[0].line() if last else 'none recorded'}"]
    if good:
        commit = good[0].git_commit or "no commit recorded"
        lines.append(f"last known-good   {good[0].line()}")
        lines.append(
            f"    roll the code back to it: git restore --source {commit} -- db/functions db/policies db/cron"
            ", then migrate again (README: Deployments and rollback)"
        )
        if good[0].git_dirty:
            lines.append("    note: its tree had uncommitted changes, so the commit alone may differ from what ran")
    else:
        lines.append("last known-good   none yet (a deployment becomes known-good when `opsdb audit` passes after it)")
    return lines
