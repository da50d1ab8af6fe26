"""opsdb audit: the security audit and readiness report of a live database."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from harness.audit import render, run_audit
from harness.audit.check import Check
from harness.audit.readiness import SIGNING_SECRETS, cron_job_names
from harness.cli import main
from harness.cli.target import describe
from harness.migrate import HISTORY_SCHEMA
from harness.rows import scalar


def _verdicts(conn: psycopg.Connection) -> dict[str, tuple[str, list[str]]]:
    return {r.check.name: (r.verdict, r.findings) for r in run_audit(conn).results}


def _add_secrets(db: psycopg.Connection) -> None:
    for name in SIGNING_SECRETS:
        db.execute("select vault.create_secret(%s, %s)", ("audit-" + name, name))


def test_a_migrated_database_passes_every_security_check(db: psycopg.Connection) -> None:
    report = run_audit(db)

    security = report.sections["Security"]
    assert len(security) >= 14
    assert {r.verdict for r in security} == {"PASS"}, render(report)
    assert _verdicts(db)["migrations_applied"] == ("PASS", [])


def test_a_table_without_rls_fails_the_audit_and_names_it(
    db: psycopg.Connection, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db.execute("create table public.audit_probe (id int primary key)")

    code = main(["audit", "--database-url", db_url])

    out, err = capsys.readouterr()
    assert code == 1
    assert "- FAIL `rls_on_every_table`: every table in public has RLS enabled and a policy" in out
    assert "  - audit_probe (RLS disabled)" in out
    assert "**NOT READY**" in out
    # A new table gets the API roles' default grants, anon's included: both rules name it.
    assert "  - audit_probe" in out.split("`anon_touches_nothing`")[1]
    assert err.strip().splitlines() == [
        f"opsdb audit: target {describe(db_url)} (from --database-url)",
        "opsdb audit: NOT READY: 2 check(s) failed: rls_on_every_table, anon_touches_nothing",
    ]


def test_a_clean_database_exits_zero_and_writes_the_report(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    _add_secrets(db)
    target = tmp_path / "readiness.md"

    code = main(["audit", "--database-url", db_url, "--output", str(target)])

    text = target.read_text()
    assert code == 0
    assert text.startswith("# opsdb security audit and readiness report\n")
    assert "## Security: " in text and "## Readiness: " in text
    assert "- FAIL" not in text and "- ERROR" not in text


def test_a_pending_migration_fails_the_audit(db: psycopg.Connection) -> None:
    newest = scalar(
        db,
        f"select file from {HISTORY_SCHEMA}.schema_history where file like 'migrations/%%' order by file desc limit 1"
    )
    db.execute(f"delete from {HISTORY_SCHEMA}.schema_history where file = %s", (newest,))

    verdict, findings = _verdicts(db)["migrations_applied"]

    assert verdict == "FAIL"
    assert findings == [f"pending: {newest}"]


def test_missing_secrets_are_warnings_naming_each_secret(db: psycopg.Connection) -> None:
    db.execute("delete from vault.secrets where name = any(%s)", (list(SIGNING_SECRETS),))
    db.execute("select vault.create_secret('x', 'twilio_auth_token')")

    verdict, findings = _verdicts(db)["signing_secrets_present"]

    assert verdict == "WARN"
    assert findings == [f"{name}: missing from Vault" for name in SIGNING_SECRETS if name != "twilio_auth_token"]


def test_failed_jobs_open_critical_alerts_and_dead_letters_are_reported(db: psycopg.Connection) -> None:
    _add_secrets(db)
    db.execute(
        """
        insert into public.job_runs (job_name, status, errors, started_by_role, started_at, finished_at) values
        ('probe_job', 'partial', '[{"step": "s1", "sqlstate": "P0001", "message": "boom"}]',
         'postgres', now() - interval '1 hour', now() - interval '1 hour'),
        ('healthy_job', 'failed', '[{"step": "s1", "sqlstate": "P0001", "message": "old"}]',
         'postgres', now() - interval '2 days', now() - interval '2 days'),
        ('healthy_job', 'succeeded', '[]', 'postgres', now(), now())
        """
    )
    db.execute(
        "insert into public.alerts (type, severity, dedupe_key, message) values"
        " ('webhook_failure', 'critical', 'audit:1', 'webhook 7 dead-lettered'),"
        " ('usage_warning', 'warning', 'audit:2', 'not critical')"
    )
    db.execute(
        "insert into public.webhook_queue (provider, idempotency_key, status, payload)"
        " values ('twilio', 'audit-dead', 'dead_letter', '{}')"
    )
    # Queued ten minutes ago and never drained (one queued a moment ago is not stale).
    db.execute(
        "insert into public.webhook_queue (provider, idempotency_key, status, payload, signature_valid, received_at)"
        " values ('twilio', 'audit-stale', 'queued', '{}', true, now() - interval '10 minutes'),"
        " ('twilio', 'audit-fresh', 'queued', '{}', true, now())"
    )

    report = run_audit(db)
    verdicts = {r.check.name: (r.verdict, r.findings) for r in report.results}

    verdict, findings = verdicts["job_runs_healthy"]
    assert verdict == "WARN" and len(findings) == 1
    assert findings[0].startswith("probe_job: last run ") and "partial" in findings[0]
    assert findings[0].endswith("(1 step(s) failed, first: s1: boom)")
    verdict, findings = verdicts["no_open_critical_alert"]
    assert verdict == "WARN" and len(findings) == 1 and findings[0].startswith("webhook_failure: webhook 7 dead-lettered")
    assert verdicts["no_webhook_backlog"][0] == "WARN"
    assert verdicts["no_webhook_backlog"][1][0].startswith("1 delivery(ies) in dead_letter")
    assert verdicts["no_webhook_backlog"][1][1].startswith("1 delivery(ies) queued for 5 minutes or more")
    # Warnings alone do not fail the audit.
    assert report.failed == [] and report.verdict == "READY WITH WARNINGS"


@pytest.mark.opsdb_needs("pg_cron")
def test_a_cron_run_that_could_not_connect_is_reported_with_its_reason(
    db: psycopg.Connection, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # What pg_cron writes when it cannot open the job's connection: failed, no end_time.
    db.execute(
        """
        insert into cron.job_run_details (jobid, runid, database, username, command, status, return_message, start_time)
        select j.jobid, 1, j.database, j.username, j.command, 'failed', 'connection failed', null
        from cron.job as j where j.jobname = 'webhook-retry-sweeper'
        """
    )
    db.execute(
        """
        insert into cron.job_run_details (jobid, runid, database, username, command, status, return_message,
            start_time, end_time)
        select j.jobid, 2, j.database, j.username, j.command, 'failed', 'ERROR: boom',
            '2026-12-01 04:30:00+00', '2026-12-01 04:30:01+00'
        from cron.job as j where j.jobname = 'reconciliation'
        """
    )

    code = main(["audit", "--database-url", db_url])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "- WARN `cron_jobs_succeeding`: no scheduled job's last run failed" in out
    assert "  - reconciliation: last run failed at 2026-12-01 04:30 UTC: ERROR: boom" in out
    assert "  - webhook-retry-sweeper: last run failed: connection failed" in out
    can_connect = out.split("`cron_jobs_can_connect`")[1].split("\n- ")[0]
    assert "webhook-retry-sweeper: its last run (start time unknown) failed: connection failed" in can_connect
    assert "cron.use_background_workers = on" in can_connect


def test_secrets_written_by_the_demo_do_not_pass_for_real_ones(db: psycopg.Connection) -> None:
    _add_secrets(db)
    assert _verdicts(db)["signing_secrets_present"] == ("PASS", [])
    # The demo makes a secret up where none exists, as on a database without the real one.
    db.execute("delete from vault.secrets where name = 'meta_app_secret'")
    db.execute("select vault.create_secret('made-up', 'meta_app_secret', 'webhook signing secret (demo)')")

    assert _verdicts(db)["signing_secrets_present"] == (
        "WARN", ["meta_app_secret: a fake written by `opsdb demo`, not the provider's secret"]
    )


@pytest.mark.opsdb_needs("pg_cron")
def test_an_inactive_or_missing_cron_job_is_reported(db: psycopg.Connection) -> None:
    # The test template is migrated with pg_cron, as the cron database is: every job is there.
    assert _verdicts(db)["cron_jobs_scheduled"] == ("PASS", [])
    assert "retention-cleanup" in cron_job_names()
    db.execute("update cron.job set active = false where jobname = 'retention-cleanup'")

    db.execute("delete from cron.job where jobname = 'webhook-retry-sweeper'")

    assert _verdicts(db)["cron_jobs_scheduled"] == (
        "WARN", ["retention-cleanup: scheduled but inactive", "webhook-retry-sweeper: not scheduled"]
    )


def test_without_pg_cron_the_audit_says_no_job_is_scheduled(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        verdict, findings = _verdicts(conn)["cron_jobs_scheduled"]

    assert verdict == "WARN"
    assert findings[0].startswith("pg_cron is not installed in ") and findings[0].endswith("no job is scheduled")


def test_a_check_that_cannot_run_is_an_error_and_the_others_still_run(db: psycopg.Connection) -> None:
    from harness import audit

    broken = Check("broken", "a check whose query fails", lambda conn: [str(conn.execute("select * from nowhere"))])
    fine = Check("fine", "a check that runs after it", lambda conn: [])

    results = [audit._run(db, broken), audit._run(db, fine)]

    assert results[0].verdict == "ERROR" and 'relation "nowhere" does not exist' in (results[0].error or "")
    assert results[1].verdict == "PASS"
