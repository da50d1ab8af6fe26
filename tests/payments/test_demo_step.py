"""The demo's payments step tells the story the issue asks for, against a real database."""

from __future__ import annotations

import psycopg
import pytest

from harness.demo import DemoContext
from harness.demo.steps import s40_payments
from harness.factories import Factories


@pytest.mark.parametrize("runs", [1, 2], ids=["fresh_database", "run_again"])
def test_demo_shows_request_forged_refusal_activation_and_raised_limits(
    db: psycopg.Connection, db_url: str, runs: int
) -> None:
    for _ in range(runs):
        lines: list[str] = []
        ctx = DemoContext(url=db_url, conn=db, out=lines.append, factories=Factories(db))
        s40_payments.run(ctx)
    text = "\n".join(lines)
    assert "owner requested plan 'pro' via Paymob" in text and "plan still 'free'" in text
    assert "forged callback (wrong HMAC): HTTP 401, status 'rejected'; plan still 'free'" in text
    assert "valid callback (HMAC-SHA512 with the Vault secret): payment confirmed" in text
    assert "workspace is now on plan 'pro'; raised limits (soft/hard): call_minutes 800/1000" in text
    assert "the owner cannot confirm it (42501" in text
    assert "payment confirmed, plan 'business'" in text
    assert "billing_mismatches for this workspace: none" in text
