"""The demo's jobs step tells the story, against a real database, and again on the same one."""

from __future__ import annotations

import psycopg
import pytest

from harness.demo import DemoContext
from harness.demo.steps import s50_jobs
from harness.factories import Factories


@pytest.mark.parametrize("runs", [1, 2], ids=["fresh_database", "run_again"])
def test_demo_runs_each_job_by_hand_then_audits_and_drills(db: psycopg.Connection, db_url: str, runs: int) -> None:
    for _ in range(runs):
        lines: list[str] = []
        ctx = DemoContext(url=db_url, conn=db, out=lines.append, factories=Factories(db))
        s50_jobs.run(ctx)
    text = "\n".join(lines)
    assert "run_retention_cleanup: succeeded; deleted" in text and "unknown_phone 1, webhook_queue 1" in text
    assert "audit logs, usage events, ledger and billing lines untouched: yes" in text
    assert "Echo call_minutes: mismatched (internal 300, provider 330)" in text
    assert "Golf call_minutes: missing_provider (internal 50, provider None)" in text
    assert "Foxtrot sms: missing_internal (internal None, provider 7)" in text
    assert "Echo sms: matched (120 = 120)" in text
    assert "run again: the same counts, open reconciliation_mismatch alerts 1" in text
    assert "generate_weekly_insights (week of " in text and "run again: succeeded" in text
    assert "job_runs logged by this step: retention_cleanup succeeded, reconciliation succeeded," in text
    assert "opsdb audit, security: 15 of 15 pass" in text
    assert "restored into a new database and compared: identical" in text
