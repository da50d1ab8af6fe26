"""The demo's usage step: limits with one alert each, usage past the hard limit recorded,
new work refused, an upgrade resolving the usage alerts, credits alerted and resolved."""

from __future__ import annotations

import psycopg

from harness.demo import DemoContext
from harness.demo.steps import s20_usage_credits
from harness.factories import Factories


def test_demo_shows_a_usage_alert_resolving_after_an_upgrade(db: psycopg.Connection, db_url: str) -> None:
    lines: list[str] = []
    ctx = DemoContext(url=db_url, conn=db, out=lines.append, factories=Factories(db))

    s20_usage_credits.run(ctx)

    text = "\n".join(lines)
    assert "record_usage sms +3: used 55 of 40/50 -> blocked" in text
    assert "authorize_usage sms before sending another: HTTP 402 PT402 usage_limit_exceeded" in text
    assert "alerts: usage_warning x1, usage_blocked x1" in text
    assert "authorize_usage sms -> allowed=True, 55 of 500" in text
    assert "  usage_warning: auto: plan changed to pro" in text
    assert "  usage_blocked: auto: plan changed to pro" in text
    assert "record_usage_batch of 3 events: recorded 2, duplicates 1" in text
    assert "deduct_credits 1 with 0.3 left: HTTP 402 PT402 insufficient_credits" in text
    assert "open credits_exhausted alerts: 1 (raised on the first refusal, once)" in text
    assert "grant_credits 10: the alert is resolved (auto: credits granted" in text
