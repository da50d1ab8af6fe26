"""The rules on the webhook tables' columns hold for every writer.

The CHECKs of webhook_queue, sms_events and call_events moved into domains
(20261122070000: a table CHECK is rebuilt for every writing statement, a domain's
is kept planned); a row that breaks one is still refused, whoever writes it.
"""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories

QUEUE_INSERT = (
    "insert into public.webhook_queue (provider, idempotency_key, status, headers, payload, attempts, max_attempts)"
    " values (%(provider)s, %(key)s, %(status)s, %(headers)s::jsonb, '{}', %(attempts)s, %(max_attempts)s)"
)
GOOD = {
    "provider": "twilio",
    "key": "sms:SMrules:received",
    "status": "failed",
    "headers": "{}",
    "attempts": 0,
    "max_attempts": 6,
}


def test_a_row_within_the_rules_is_accepted(db: psycopg.Connection) -> None:
    db.execute(QUEUE_INSERT, GOOD)


@pytest.mark.parametrize(
    ("column", "value", "domain"),
    [
        ("provider", "stripe", "webhook_provider"),
        ("key", "", "webhook_idempotency_key"),
        ("key", "k" * 301, "webhook_idempotency_key"),
        ("status", "maybe", "webhook_status"),
        ("headers", "[]", "webhook_headers"),
        ("attempts", -1, "webhook_attempts"),
        ("max_attempts", 0, "webhook_max_attempts"),
        ("max_attempts", 21, "webhook_max_attempts"),
    ],
)
def test_webhook_queue_refuses_what_its_checks_refused(
    db: psycopg.Connection, column: str, value: object, domain: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation) as refused, db.transaction():
        db.execute(QUEUE_INSERT, {**GOOD, column: value})
    assert domain in str(refused.value)


def test_an_update_is_held_to_the_same_rules(db: psycopg.Connection) -> None:
    row = db.execute(QUEUE_INSERT + " returning id", GOOD).fetchone()
    assert row is not None
    with pytest.raises(psycopg.errors.CheckViolation) as refused, db.transaction():
        db.execute("update public.webhook_queue set status = 'lost' where id = %s", (row[0],))
    assert "webhook_status" in str(refused.value)


@pytest.mark.parametrize(
    ("table", "column", "value", "domain"),
    [
        ("sms_events", "direction", "sideways", "sms_direction"),
        ("sms_events", "num_segments", -1, "event_count"),
        ("sms_events", "num_media", -1, "event_count"),
        ("call_events", "duration_seconds", -1, "event_count"),
        ("call_events", "billable_minutes", -1, "event_count"),
    ],
)
def test_event_tables_refuse_what_their_checks_refused(
    db: psycopg.Connection, factories: Factories, table: str, column: str, value: object, domain: str
) -> None:
    ws = factories.workspace()
    if table == "sms_events":
        statement = (
            "insert into public.sms_events (workspace_id, message_sid, sms_status, direction, {column})"
            " values (%(ws)s, 'SMrules', 'received', 'inbound', %(value)s)"
        )
        if column == "direction":
            statement = (
                "insert into public.sms_events (workspace_id, message_sid, sms_status, direction)"
                " values (%(ws)s, 'SMrules', 'received', %(value)s)"
            )
    else:
        statement = (
            "insert into public.call_events (workspace_id, call_sid, call_status, {column})"
            " values (%(ws)s, 'CArules', 'completed', %(value)s)"
        )
    with pytest.raises(psycopg.errors.CheckViolation) as refused, db.transaction():
        db.execute(statement.format(column=column), {"ws": ws.id, "value": value})
    assert domain in str(refused.value)
