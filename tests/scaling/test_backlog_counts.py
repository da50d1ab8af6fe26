"""The webhook backlogs (the console's Overview, monitoring_signals, the readiness report)
are counted from partial indexes, never by scanning webhook_queue, on a table large enough
that the planner would scan it if the indexes did not answer: each status on an index that
covers it (a single IN over statuses of different partial indexes matches none of them).
Which index the monitoring signals pick depends on the rows' width; at production volume it
is an index-only scan of webhook_queue_attention_idx, which holds every column they read
(`make bench-volume`, console_overview).
"""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from harness.audit.readiness import webhook_backlog
from harness.console.pages.overview import BACKLOG
from tests.scaling.plans import explain, nested_plans, scans_of

ROWS = 20000


def _seed(db: psycopg.Connection) -> None:
    """Mostly processed deliveries; one in fifty dead, a few failed, rejected, unknown and queued."""
    db.execute(
        """
        insert into public.webhook_queue (provider, event_type, idempotency_key, status, payload, received_at,
            signature_valid, next_attempt_at)
        select case when g %% 3 = 0 then 'meta' else 'twilio' end, 'twilio.sms', 'sms:SM' || g,
            case when g %% 50 = 0 then 'dead_letter' when g %% 500 = 1 then 'failed' when g %% 100 = 2 then 'rejected'
                when g %% 100 = 3 then 'unknown_phone' when g %% 1000 = 4 then 'queued' else 'processed' end,
            %s, now() - g * interval '1 minute', g %% 100 <> 2, now() - interval '1 hour'
        from generate_series(1, %s) as g
        """,
        (Jsonb({"MessageSid": "SM0"}), ROWS),
    )
    db.execute("vacuum analyze public.webhook_queue")


def _kinds(scans: list[dict]) -> set[str]:
    return {n["Node Type"] for n in scans}


def test_monitoring_signals_count_the_backlogs_from_the_index_alone(db: psycopg.Connection) -> None:
    _seed(db)
    with nested_plans(db) as plans:
        rows = db.execute("select signal, scope, last_24h from private.monitoring_signal_counts(now())").fetchall()
    scans = [n for plan in plans for n in scans_of(plan, "webhook_queue")]
    assert scans and "Seq Scan" not in _kinds(scans), scans
    backlog = {(signal, scope): n for signal, scope, n in rows if signal.endswith("_backlog")}
    dead = db.execute("select count(*) from public.webhook_queue where status = 'dead_letter'").fetchone()
    assert dead and sum(n for (signal, _), n in backlog.items() if signal == "webhook_dead_letter_backlog") == dead[0]


def test_the_overview_and_readiness_backlogs_read_no_table_scan(db: psycopg.Connection) -> None:
    _seed(db)
    plan = explain(db, BACKLOG)
    scans = scans_of(plan, "webhook_queue")
    assert len(scans) == 5 and "Seq Scan" not in _kinds(scans), scans
    counted = {r[0]: r[1] for r in db.execute(BACKLOG).fetchall()}
    expected: dict[str, int] = dict(
        db.execute(
            "select status, count(*) from public.webhook_queue where status <> 'processed' group by status"
        ).fetchall()
    )
    assert counted == expected

    with nested_plans(db) as plans:
        findings = webhook_backlog(db)
    scans = [n for p in plans for n in scans_of(p, "webhook_queue")]
    assert scans and "Seq Scan" not in _kinds(scans), scans
    assert any("dead_letter" in f for f in findings)
