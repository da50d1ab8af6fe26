"""Jobs and operations: the scheduled jobs run by hand (retention cleanup, the
nightly reconciliation against provider reports, weekly insights), each logged
in job_runs; then the security audit and readiness report, and a restore drill."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import psycopg

from harness.audit import run_audit
from harness.deploy.restore_drill import run_drill

if TYPE_CHECKING:
    from harness.demo import DemoContext

TITLE = "Jobs and operations: retention, reconciliation, weekly insights, audit and restore drill"


def _count(ctx: DemoContext, query: str, *params: Any) -> int:
    row = ctx.conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def _backdate_usage(ctx: DemoContext, workspace_id: Any, metric: str, quantity: int, day: date) -> None:
    """Usage metered on ``day`` (record_usage stamps now(); the demo needs yesterday's)."""
    ctx.rpc("record_usage", {"workspace_id": str(workspace_id), "metric": metric, "quantity": 1, "source": "demo"})
    ctx.conn.execute(
        """
        insert into public.usage_events (
            workspace_id, metric, quantity, period_start, tier_snapshot_id, source, idempotency_key, occurred_at
        )
        select e.workspace_id, e.metric, %s, date_trunc('month', %s::date)::date, e.tier_snapshot_id, 'demo',
            'demo-yesterday:' || gen_random_uuid(), %s
        from public.usage_events as e
        where e.workspace_id = %s and e.metric = %s
        limit 1
        """,
        (quantity, day, datetime.combine(day, time(12), timezone.utc), workspace_id, metric),
    )


def _report(ctx: DemoContext, workspace_id: Any, metric: str, quantity: int, day: date) -> None:
    """A line of the provider's usage report, as the backend's import loads it."""
    ctx.conn.execute(
        "insert into public.provider_usage_reports (provider, workspace_id, metric, usage_date, quantity, report_ref)"
        " values ('twilio', %s, %s, %s, %s, %s)",
        (workspace_id, metric, day, quantity, f"demo-{metric}-{day}"),
    )


def _retention(ctx: DemoContext) -> None:
    ctx.conn.execute(
        "insert into public.webhook_queue (provider, idempotency_key, status, payload, received_at)"
        " values ('twilio', 'demo-expired:' || gen_random_uuid(), 'processed', '{}', now() - interval '40 days')"
    )
    ctx.conn.execute(
        "insert into public.unknown_phone (provider, channel_type, phone_number, first_seen_at, last_seen_at)"
        " values ('twilio', 'sms', '+1555' || (random() * 1e7)::int, now() - interval '1 year',"
        " now() - interval '100 days')"
    )
    kept = "select (select count(*) from public.audit_logs) + (select count(*) from public.usage_events)" \
        " + (select count(*) from public.wallet_ledger) + (select count(*) from public.billing_line_items)"
    before = _count(ctx, kept)
    result = ctx.rpc("run_retention_cleanup")
    deleted = ", ".join(f"{table} {rows}" for table, rows in sorted(result["deleted"].items()))
    ctx.say(f"run_retention_cleanup: {result['status']}; deleted {deleted}")
    ctx.say(
        "audit logs, usage events, ledger and billing lines untouched: "
        + ("yes" if _count(ctx, kept) == before else "NO")
    )


def _reconciliation(ctx: DemoContext) -> None:
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    matched_ws = ctx.factories.workspace(name="Echo Clinic")
    quiet_ws = ctx.factories.workspace(name="Foxtrot Labs")
    unreported_ws = ctx.factories.workspace(name="Golf Motors")
    _backdate_usage(ctx, matched_ws.id, "sms", 120, yesterday)
    _backdate_usage(ctx, matched_ws.id, "call_minutes", 300, yesterday)
    _backdate_usage(ctx, unreported_ws.id, "call_minutes", 50, yesterday)
    _report(ctx, matched_ws.id, "sms", 120, yesterday)
    _report(ctx, matched_ws.id, "call_minutes", 330, yesterday)
    _report(ctx, quiet_ws.id, "sms", 7, yesterday)
    ctx.say(f"usage metered on {yesterday}: Echo sms 120 and call_minutes 300, Golf call_minutes 50")
    ctx.say("Twilio's usage report for that day: Echo sms 120 and call_minutes 330, Foxtrot sms 7, nothing for Golf")

    args = {"period_start": str(yesterday), "period_end": str(yesterday + timedelta(days=1))}
    first = ctx.rpc("run_reconciliation", args)
    names = {matched_ws.id: "Echo", quiet_ws.id: "Foxtrot", unreported_ws.id: "Golf"}
    items = ctx.conn.execute(
        "select workspace_id, metric, kind, internal_quantity, provider_quantity from public.reconciliation_items"
        " where run_id = %s and workspace_id = any(%s) order by metric, kind",
        (first["run_id"], list(names)),
    ).fetchall()
    for workspace_id, metric, kind, internal, provider in items:
        ctx.say(f"  {names[workspace_id]} {metric}: {kind} (internal {internal}, provider {provider})")
    echo_sms = "matched" if not any(i[0] == matched_ws.id and i[1] == "sms" for i in items) else "NOT matched"
    ctx.say(f"  Echo sms: {echo_sms} (120 = 120)")
    again = ctx.rpc("run_reconciliation", args)
    same = all(first[k] == again[k] for k in ("matched", "mismatched", "missing_internal", "missing_provider"))
    alerts = _count(
        ctx, "select count(*) from public.alerts where type = 'reconciliation_mismatch' and resolved_at is null"
        " and details ->> 'period_start' = %s", str(yesterday)
    )
    ctx.say(
        f"run_reconciliation {first['status']}: matched {first['matched']}, mismatched {first['mismatched']},"
        f" missing_internal {first['missing_internal']}, missing_provider {first['missing_provider']};"
        f" run again: {'the same counts' if same else 'DIFFERENT counts'}, open reconciliation_mismatch alerts {alerts}"
    )


def _insights(ctx: DemoContext) -> None:
    first = ctx.rpc("generate_weekly_insights")
    again = ctx.rpc("generate_weekly_insights")
    rows = _count(ctx, "select count(*) from public.weekly_insights where week_start = %s", first["week_start"])
    ctx.say(
        f"generate_weekly_insights (week of {first['week_start']}): {first['status']}, {first['workspaces']} workspaces"
        f" (those created before that week ended); run again: {again['status']}, still {rows} rows for that week"
    )


def run(ctx: DemoContext) -> None:
    started = ctx.conn.execute("select coalesce(max(id), 0) from public.job_runs").fetchone()
    assert started is not None
    if ctx.conn.execute("select to_regclass('cron.job') is not null").fetchone() == (True,):
        jobs = ctx.conn.execute("select jobname, schedule from cron.job where active order by jobname").fetchall()
        ctx.say("pg_cron jobs: " + ", ".join(f"{name} ({schedule})" for name, schedule in jobs))

    _retention(ctx)
    _reconciliation(ctx)
    _insights(ctx)
    runs = ctx.conn.execute(
        "select job_name, status from public.job_runs where id > %s order by id", (started[0],)
    ).fetchall()
    ctx.say("job_runs logged by this step: " + ", ".join(f"{name} {status}" for name, status in runs))

    with psycopg.connect(ctx.url, autocommit=True) as conn:
        report = run_audit(conn)
    for title, results in report.sections.items():
        warned = [r.check.name for r in results if r.verdict != "PASS"]
        passed = len(results) - len(warned)
        ctx.say(f"opsdb audit, {title.lower()}: {passed} of {len(results)} pass" + (
            f" (not passing: {', '.join(warned)})" if warned else ""
        ))
    ctx.say(f"opsdb audit verdict: {report.verdict}")

    drill = run_drill(ctx.url, out=lambda _line: None)
    seconds = drill.seconds["dump"] + drill.seconds["restore"]
    ctx.say(
        f"opsdb drill: {len(drill.tables)} tables dumped, restored into a new database and compared:"
        f" {'identical' if drill.ok else '; '.join(drill.problems)} (dump + restore {seconds:.1f} s)"
    )
