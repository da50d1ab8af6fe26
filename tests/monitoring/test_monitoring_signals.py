"""public.monitoring_signals(): what is failing now, counted over 5 minutes, 1 hour
and 24 hours, one row per signal and provider; platform staff only."""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories
from harness.rpc import RpcError
from harness.testing import Rpc

PROVIDERS = ("twilio", "whatsapp", "messenger", "meta", "paymob", "standard")
EXPECTED_ROWS = (
    [("webhook_failures", p) for p in PROVIDERS]
    + [("signature_failures", p) for p in PROVIDERS]
    + [("api_auth_failures", ""), ("rate_limited", ""), ("credits_exhausted", ""),
       ("payment_webhook_failures", "paymob"), ("job_failures", "")]
    + [("webhook_retry_backlog", p) for p in PROVIDERS]
    + [("webhook_dead_letter_backlog", p) for p in PROVIDERS]
)


def signals(db: psycopg.Connection) -> dict[tuple[str, str], tuple[int, int, int]]:
    rows = db.execute("select signal, scope, last_5m, last_1h, last_24h from public.monitoring_signals()").fetchall()
    return {(s, scope): (a, b, c) for s, scope, a, b, c in rows}


def nonzero(db: psycopg.Connection) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {k: v for k, v in signals(db).items() if v != (0, 0, 0)}


def test_every_signal_has_a_row_for_every_provider_zeros_included(db: psycopg.Connection) -> None:
    rows = db.execute("select signal, scope, last_5m, last_1h, last_24h from public.monitoring_signals()").fetchall()
    assert [(s, scope) for s, scope, *_ in rows] == EXPECTED_ROWS
    assert all(r[2:] == (0, 0, 0) for r in rows)


def _delivery(db: psycopg.Connection, provider: str, status: str, age: str, *, event_type: str | None = None,
              signature_valid: bool | None = True) -> None:
    db.execute(
        "insert into public.webhook_queue (provider, event_type, idempotency_key, status, payload, signature_valid,"
        " received_at) values (%s, %s, gen_random_uuid()::text, %s, '{}', %s, now() - %s::interval)",
        (provider, event_type, status, signature_valid, age),
    )


def test_each_signal_counts_its_events_in_each_window(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    _delivery(db, "twilio", "failed", "2 minutes")
    _delivery(db, "twilio", "processed", "2 minutes")  # fine: not counted
    _delivery(db, "meta", "dead_letter", "30 minutes", event_type="meta.whatsapp")
    _delivery(db, "meta", "rejected", "3 hours", event_type="meta.messenger")  # signed, unusable payload
    _delivery(db, "meta", "rejected", "1 minute", event_type="meta.messenger", signature_valid=False)
    _delivery(db, "paymob", "rejected", "2 minutes", signature_valid=False)
    _delivery(db, "standard", "failed", "2 days")  # waiting for days: only in the backlog
    _delivery(db, "twilio", "queued", "1 minute")  # acknowledged, waiting for the drain: not a failure
    _delivery(db, "standard", "queued", "3 hours")  # nor a retry or dead-letter backlog
    for age in ("1 minute", "1 minute", "2 hours"):
        db.execute("insert into public.external_api_audit_logs (reason, occurred_at) values ('unknown', now() - %s::interval)",
                   (age,))
    # an allowance used up for the next hour, so both requests now are refused (429s)
    db.execute("insert into private.rate_limit_counters (workspace_id, bucket, tat)"
               " values (%s, 'messages', now() + interval '1 hour')", (ws.id,))
    answers = [rpc("check_rate_limit", {"workspace_id": str(ws.id), "bucket": "messages"}) for _ in range(2)]
    assert [a["allowed"] for a in answers] == [False, False]
    # refusals counted earlier, in the limiter's ring of minute slots; a slot from 25 hours ago no longer counts
    db.execute("insert into private.rate_limit_refusals (workspace_id, bucket, slot, minute, refusals)"
               " select %s, 'api', (floor(extract(epoch from m) / 60)::bigint %% 1440)::smallint, m, n"
               " from (values (date_trunc('minute', now()) - interval '30 minutes', 4),"
               " (date_trunc('minute', now()) - interval '25 hours', 5)) as v (m, n)", (ws.id,))
    for type_, severity, age in (("credits_exhausted", "critical", "10 minutes"), ("payment_failure", "critical", "1 minute"),
                                 ("payment_failure", "info", "1 minute")):
        db.execute("insert into public.alerts (type, severity, dedupe_key, message, created_at)"
                   " values (%s, %s, gen_random_uuid()::text, 'x', now() - %s::interval)", (type_, severity, age))
    for status, age in (("failed", "3 minutes"), ("partial", "5 hours"), ("succeeded", "1 minute")):
        db.execute("insert into public.job_runs (job_name, status, started_by_role, started_at, finished_at)"
                   " values ('probe', %s, 'postgres', now() - %s::interval, now())", (status, age))

    assert nonzero(db) == {
        ("webhook_failures", "twilio"): (1, 1, 1),
        ("webhook_failures", "whatsapp"): (0, 1, 1),
        ("webhook_failures", "messenger"): (0, 0, 1),
        ("signature_failures", "messenger"): (1, 1, 1),
        ("signature_failures", "paymob"): (1, 1, 1),
        ("api_auth_failures", ""): (2, 2, 3),
        ("rate_limited", ""): (2, 6, 6),
        ("credits_exhausted", ""): (0, 1, 1),
        ("payment_webhook_failures", "paymob"): (2, 2, 2),
        ("job_failures", ""): (1, 1, 2),
        ("webhook_retry_backlog", "twilio"): (1, 1, 1),
        ("webhook_retry_backlog", "standard"): (1, 1, 1),
        ("webhook_dead_letter_backlog", "whatsapp"): (1, 1, 1),
    }


def test_platform_staff_read_the_signals_and_tenants_cannot(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace()
    for staff in (factories.platform_admin(), factories.support()):
        rows = rpc("monitoring_signals", {}, as_=staff.jwt)
        assert [(r["signal"], r["scope"]) for r in rows] == EXPECTED_ROWS
    for outsider in (ws.owner.jwt, factories.member(ws).jwt, "service_role", "anon"):
        with pytest.raises(RpcError) as caught:
            rpc("monitoring_signals", {}, as_=outsider)
        assert caught.value.sqlstate == "42501"


def test_an_api_role_in_a_plain_session_cannot_read_them_either(db: psycopg.Connection) -> None:
    for role in ("authenticated", "service_role"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
            db.execute(f"set local role {role}")
            db.execute("select * from public.monitoring_signals()")
