"""The deployment that built this database, its restore point, and the way back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.deploy import deployments
from harness.audit.ci import audit_and_mark

if TYPE_CHECKING:
    from harness.demo import DemoContext

TITLE = "Deployments: the record, the restore point, known-good and the way back"


def run(ctx: DemoContext) -> None:
    records = deployments.records(ctx.conn, limit=1)
    if not records:
        ctx.say("no deployment recorded: this database was not migrated by opsdb migrate")
        return
    last = records[0]
    commit = (last.git_commit or "no git checkout")[:12] + (" (uncommitted changes)" if last.git_dirty else "")
    ctx.say(f"deployment #{last.id}: {last.outcome}, {len(last.files)} file(s), by {last.deployed_by}, commit {commit}")
    point = last.restore_point
    if point is None:
        ctx.say("restore point: none (only re-applied files changed)")
    else:
        ctx.say(f"restore point #{point.id} before it: WAL {point.wal_lsn} at {point.taken_at:%Y-%m-%d %H:%M:%S %Z}")
        ctx.say(f"  named point: {point.name if point.named else 'not created (' + str(point.not_named_because) + ')'}")
        ctx.say(f"  restorable: {'yes' if point.restorable else 'no'} ({point.describe()})")
    report, marked = audit_and_mark(ctx.url)
    ctx.say(
        f"opsdb audit: {report.verdict}; " + (f"deployment #{marked} marked known-good" if marked else "nothing marked")
    )
    for line in deployments.status_lines(ctx.conn):
        ctx.say(line)
