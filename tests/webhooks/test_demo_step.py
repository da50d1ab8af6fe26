"""The demo's webhooks step tells the story the issue asks for, against a real database:
a burst of signed deliveries (duplicates, one forged, one to an unknown number)."""

from __future__ import annotations

import psycopg
import pytest

from harness.demo import DemoContext
from harness.demo.steps import s30_webhooks
from harness.factories import Factories


@pytest.mark.parametrize("runs", [1, 2], ids=["fresh_database", "run_again"])
def test_demo_shows_what_became_of_each_delivery(db: psycopg.Connection, db_url: str, runs: int) -> None:
    for _ in range(runs):
        lines: list[str] = []
        ctx = DemoContext(url=db_url, conn=db, out=lines.append, factories=Factories(db))
        s30_webhooks.run(ctx)
    text = "\n".join(lines)
    assert "8 connections at once: 1 queued, 7 duplicate" in text
    assert "acknowledged: voice status callback, completed after 2m05s: queued" in text
    assert "5 queued -> processed 4, unknown_phone 1" in text
    assert "voice status callback, completed after 2m05s: processed" in text
    assert "WhatsApp text message: processed" in text
    assert "Standard Webhooks event invoice.paid: processed" in text
    assert "forged X-Twilio-Signature: rejected (signature_mismatch)" in text
    assert "SMS to a number nobody owns: unknown_phone" in text
    assert "redelivered by Twilio later: duplicate" in text
    assert "normalized: 1 sms_event(s), 1 call_event(s), 1 WhatsApp message(s)" in text
    assert "usage recorded once per event: call_minutes 3, sms 1" in text
    assert "seen 1 time(s)" in text
    assert "alert: twilio webhook signature verification failed (signature_mismatch)" in text
    assert ": processed, audit row" in text and "sms_events still 1" in text
    assert "retry sweeper (pg_cron runs it every minute): retried 0, succeeded 0, dead-lettered 0" in text
    assert "an SMS sent with process_now => true: processed in the call" in text
