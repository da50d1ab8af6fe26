"""Where the demo runs and what the runner applied."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.rows import one, scalar

if TYPE_CHECKING:
    from harness.demo import DemoContext

TITLE = "The database and what was applied"


def run(ctx: DemoContext) -> None:
    version, cron_db = one(
        ctx.conn,
        "select current_setting('server_version'), current_setting('cron.database_name', true)"
    )
    info = ctx.conn.info
    ctx.say(f"PostgreSQL {version} at {info.host}:{info.port}/{info.dbname} (pg_cron runs in: {cron_db or 'n/a'})")
    rows = ctx.conn.execute(
        "select kind, count(*), max(applied_at) from opsdb_meta.schema_history group by kind order by kind"
    ).fetchall()
    for kind, count, last in rows:
        ctx.say(f"{count:>3} {kind} file(s) applied, latest at {last:%Y-%m-%d %H:%M:%S}")
    jobs = ctx.conn.execute(
        "select jobname, schedule from cron.job order by jobname"
        if scalar(ctx.conn, "select to_regclass('cron.job') is not null")
        else "select null::text, null::text where false"
    ).fetchall()
    for name, schedule in jobs:
        ctx.say(f"pg_cron job {name!r} on {schedule!r}")
