"""The webhook bench scenarios measure what they claim (bench/scenarios/webhooks.py).

Unique deliveries are signed in setup, as Twilio signs them, and taken from a pool
by the measured statement: each must still be new, carry a valid signature and be
processed in full (stored, normalized into sms_events, metered). The duplicate
scenario's redeliveries must be found to be duplicates of processed originals.
"""

from __future__ import annotations

import psycopg
import pytest

from bench.scenarios import webhooks



def _as_service_role(db: psycopg.Connection, statement: str) -> dict:
    with db.transaction():
        db.execute("set local role service_role")
        db.execute("select set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true)")
        row = db.execute(statement.encode()).fetchone()
    assert row is not None
    return row[0]


def test_pooled_unique_deliveries_are_new_signed_and_processed_in_full(db: psycopg.Connection) -> None:
    db.execute(webhooks.UNIQUE_SETUP.replace(f"generate_series(1, {webhooks.POOL})", "generate_series(1, 5)").encode())
    results = [_as_service_role(db, webhooks.UNIQUE_SCRIPT) for _ in range(3)]

    assert [r["status"] for r in results] == ["processed"] * 3
    assert len({r["idempotency_key"] for r in results}) == 3
    ids = [r["webhook_id"] for r in results]
    rows = db.execute(
        "select q.signature_valid, q.status, e.id is not null, u.id is not null"
        " from public.webhook_queue as q"
        " left join public.sms_events as e on e.webhook_id = q.id"
        " left join public.usage_events as u on u.idempotency_key = 'twilio_sms:' || e.message_sid"
        " where q.id = any(%s)",
        (ids,),
    ).fetchall()
    assert rows == [(True, "processed", True, True)] * 3


def test_a_run_that_outlasts_the_pool_fails_instead_of_measuring_something_else(db: psycopg.Connection) -> None:
    db.execute(webhooks.UNIQUE_SETUP.replace(f"generate_series(1, {webhooks.POOL})", "generate_series(1, 1)").encode())
    assert _as_service_role(db, webhooks.UNIQUE_SCRIPT)["status"] == "processed"
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="malformed_payload"):
        _as_service_role(db, webhooks.UNIQUE_SCRIPT)


def test_redeliveries_are_duplicates_of_processed_originals(db: psycopg.Connection) -> None:
    db.execute(webhooks.DUPLICATES_SETUP.encode())
    for payload, headers in webhooks.DUPLICATE_DELIVERIES[:3]:
        result = _as_service_role(
            db,
            "select public.ingest_webhook(provider => 'twilio', payload => {p}::jsonb, headers => {h}::jsonb,"
            " url => '{url}')".format(p=webhooks._literal(payload), h=webhooks._literal(headers), url=webhooks.URL),
        )
        assert (result["status"], result["duplicate"], result["original_status"]) == ("duplicate", True, "processed")
