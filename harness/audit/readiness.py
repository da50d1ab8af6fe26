"""Readiness checks: the live state a launch depends on, beyond the schema's rules.

Migrations applied without drift, the pg_cron jobs of db/cron/ scheduled and
succeeding, the jobs' own runs healthy, the signing secrets present in Vault, no
open critical alert, no webhook backlog. Only unapplied or drifted migrations
fail the audit; the rest warn, because a staging or laptop database legitimately
lacks some of them (no Vault secrets, pg_cron in another database).
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from harness import pgcron, project
from harness.audit.check import Checks
from harness.migrate import discover, history, hold_cron_files, make_plan

# `opsdb demo` describes the secrets it makes up with this suffix.
DEMO_SECRET_PATTERN = "%(demo)"
# The names the signature checks look up in Vault (docs/api.md, "Secrets").
SIGNING_SECRETS = ("twilio_auth_token", "meta_app_secret", "paymob_hmac_secret", "standard_webhook_secret")

# How many lines a check lists before it summarises the rest.
MAX_LINES = 20

READINESS_CHECKS = Checks()


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], f"... and {len(lines) - MAX_LINES} more"]


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()
    return bool(row and row[0])


def cron_job_names(db_dir: Path | None = None) -> list[str]:
    """The job names the files in db/cron/ schedule (private.schedule_job('name', ...))."""
    names: list[str] = []
    for path in sorted((db_dir or project.db_dir()).joinpath("cron").glob("*.sql")):
        names += pgcron.job_names(path.read_text())
    return names


@READINESS_CHECKS.rule("migrations_applied", "every migration is applied and none drifted")
def migrations_not_applied(conn: psycopg.Connection) -> list[str]:
    # Cron files waiting for pg_cron are not missing migrations: cron_jobs_scheduled reports them.
    files = discover(project.db_dir())
    plan = make_plan(files, history(conn))
    hold_cron_files(conn, plan, files)
    return (
        [f"{plan.label(f)}: {f.name}" for f in plan.to_apply]
        + [f"drift (edited after it was applied): {name}" for name in plan.edited]
        + [f"drift (applied, now missing): {name}" for name in plan.missing]
    )


@READINESS_CHECKS.rule("cron_jobs_scheduled", "every job in db/cron/ is scheduled and active", severity="warn")
def cron_jobs_not_scheduled(conn: psycopg.Connection) -> list[str]:
    if not _exists(conn, "cron.job"):
        database = conn.execute(
            "select current_database(), coalesce(current_setting('cron.database_name', true), 'unset')"
        ).fetchone()
        assert database is not None
        return [
            f"pg_cron is not installed in {database[0]} (cron.database_name is {database[1]}): no job is scheduled",
            pgcron.absence_advice(pgcron.facts(conn)),
        ]
    jobs = conn.execute("select jobname, active from cron.job where jobname is not null").fetchall()
    scheduled: dict[str, bool] = dict(jobs)
    return [
        f"{name}: {'not scheduled' if name not in scheduled else 'scheduled but inactive'}"
        for name in cron_job_names()
        if scheduled.get(name) is not True
    ]


@READINESS_CHECKS.rule("cron_jobs_succeeding", "no scheduled job's last run failed", severity="warn")
def cron_jobs_failing(conn: psycopg.Connection) -> list[str]:
    if not _exists(conn, "cron.job_run_details"):
        return []
    rows = conn.execute(
        """
        select j.jobname, coalesce(d.end_time, d.start_time), d.return_message
        from cron.job as j
        cross join lateral (
            select r.status, r.start_time, r.end_time, r.return_message
            from cron.job_run_details as r
            where r.jobid = j.jobid and r.status in ('succeeded', 'failed')
            order by r.runid desc
            limit 1
        ) as d
        where j.jobname = any(%s) and d.status = 'failed'
        order by 1
        """,
        (cron_job_names(),),
    ).fetchall()
    # A run that could not connect has no end_time (and may lack a start_time): it is the case to report.
    return _capped(
        [
            f"{name}: last run failed{f' at {at:%Y-%m-%d %H:%M} UTC' if at else ''}: {message or 'no message'}"
            for name, at, message in rows
        ]
    )


@READINESS_CHECKS.rule(
    "cron_jobs_can_connect",
    "pg_cron can open its jobs' connections (cron.host, pg_hba.conf, or background workers)",
    severity="warn",
)
def cron_connections_refused(conn: psycopg.Connection) -> list[str]:
    return _capped(pgcron.connection_problems(conn, cron_job_names()))


@READINESS_CHECKS.rule("job_runs_healthy", "every job's last logged run succeeded", severity="warn")
def job_runs_unhealthy(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """
        select distinct on (r.job_name) r.job_name, r.id, r.status, r.started_at, r.errors
        from public.job_runs as r
        order by r.job_name, r.started_at desc, r.id desc
        """
    ).fetchall()
    return [
        f"{name}: last run {run_id} {status} at {started:%Y-%m-%d %H:%M} UTC"
        f" ({len(errors)} step(s) failed, first: {errors[0].get('step')}: {errors[0].get('message')})"
        for name, run_id, status, started, errors in rows
        if status in ("failed", "partial")
    ]


@READINESS_CHECKS.rule(
    "signing_secrets_present", "the webhook and payment signing secrets are in Vault", severity="warn"
)
def signing_secrets_missing(conn: psycopg.Connection) -> list[str]:
    if not _exists(conn, "vault.secrets"):
        return ["Vault is not installed (schema vault): no signing secret can be read"]
    rows = conn.execute(
        "select name, bool_or(description like %s) from vault.secrets where name = any(%s) group by name",
        (DEMO_SECRET_PATTERN, list(SIGNING_SECRETS)),
    ).fetchall()
    present = {name: demo for name, demo in rows}
    return [f"{name}: missing from Vault" for name in SIGNING_SECRETS if name not in present] + [
        f"{name}: a fake written by `opsdb demo`, not the provider's secret" for name in SIGNING_SECRETS
        if present.get(name)
    ]


@READINESS_CHECKS.rule("no_open_critical_alert", "no critical alert is open", severity="warn")
def open_critical_alerts(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """
        select a.type, a.message, a.created_at
        from public.alerts as a
        where a.resolved_at is null and a.severity = 'critical'
        order by a.created_at desc
        """
    ).fetchall()
    return _capped([f"{type_}: {message} (open since {at:%Y-%m-%d %H:%M} UTC)" for type_, message, at in rows])


@READINESS_CHECKS.rule("no_webhook_backlog", "no dead letters, no overdue retries, no stale queue", severity="warn")
def webhook_backlog(conn: psycopg.Connection) -> list[str]:
    row = conn.execute(
        # Each count on its status's partial index: one scan for all three statuses would read the table.
        """
        select
            (select count(*) from public.webhook_queue as q where q.status = 'dead_letter'),
            (select count(*) from public.webhook_queue as q
             where q.status = 'failed' and q.next_attempt_at < now() - interval '15 minutes'),
            (select count(*) from public.webhook_queue as q
             where q.status = 'queued' and q.received_at < now() - interval '5 minutes')
        """
    ).fetchone()
    assert row is not None
    dead, overdue, waiting = row
    findings = []
    if dead:
        findings.append(f"{dead} delivery(ies) in dead_letter: replay or expire them (replay_webhooks)")
    if overdue:
        findings.append(f"{overdue} failed delivery(ies) overdue by 15 minutes or more: is the retry sweeper running?")
    if waiting:
        findings.append(
            f"{waiting} delivery(ies) queued for 5 minutes or more: is the webhook-drain job running?"
            " (select public.drain_webhooks() processes a batch by hand)"
        )
    return findings
