"""The demo's tenancy step shows isolation and an API key's life, against a real database."""

from __future__ import annotations

import psycopg
import pytest

from harness.demo import DemoContext
from harness.demo.steps import s10_tenancy
from harness.factories import Factories


@pytest.mark.parametrize("runs", [1, 2], ids=["fresh_database", "run_again"])
def test_demo_shows_two_isolated_workspaces_and_a_key_created_used_revoked(
    db: psycopg.Connection, db_url: str, runs: int
) -> None:
    for _ in range(runs):
        lines: list[str] = []
        ctx = DemoContext(url=db_url, conn=db, out=lines.append, factories=Factories(db))
        s10_tenancy.run(ctx)
    text = "\n".join(lines)
    assert "Nile Couriers's owner reads Acme Clinics's messages: 0 row(s); all messages visible to them: 1" in text
    assert "key rows holding its sha256: 1; rows holding the key itself: 0" in text
    assert "authenticate_api_key (service_role): workspace" in text and "plan pro" in text
    assert "the same key again: HTTP 401 PT401 invalid_api_key" in text
    assert "recorded in external_api_audit_logs: [('revoked', 'opsk_" in text
    assert "audit_logs for the key: api_key.created, api_key.revoked" in text
