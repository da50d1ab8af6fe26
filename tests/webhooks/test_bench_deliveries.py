"""The webhook bench scenarios measure what they claim (bench/scenarios/webhooks.py).

Unique deliveries are signed in setup, as Twilio signs them, and taken from a pool
by the measured statement: each must still be new, carry a valid signature, be
acknowledged queued and then be processed in full by the drain (normalized into
sms_events, metered), or in the call with process_now. The duplicate scenario's
redeliveries must be found to be duplicates of processed originals. The plain-SQL
floors write what the functions write.
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


def _processed_in_full(db: psycopg.Connection, ids: list[int]) -> list[tuple]:
    return db.execute(
        "select q.signature_valid, q.status, e.id is not null, u.id is not null"
        " from public.webhook_queue as q"
        " left join public.sms_events as e on e.webhook_id = q.id"
        " left join public.usage_events as u on u.idempotency_key = 'twilio_sms:' || e.message_sid"
        " where q.id = any(%s)",
        (ids,),
    ).fetchall()


def test_pooled_unique_deliveries_are_new_signed_queued_and_then_drained_in_full(db: psycopg.Connection) -> None:
    db.execute(webhooks.UNIQUE_SETUP.replace(f"generate_series(1, {webhooks.POOL})", "generate_series(1, 5)").encode())
    results = [_as_service_role(db, webhooks.UNIQUE_SCRIPT) for _ in range(3)]

    assert [r["status"] for r in results] == ["queued"] * 3
    assert len({r["idempotency_key"] for r in results}) == 3
    ids = [r["webhook_id"] for r in results]
    assert _processed_in_full(db, ids) == [(True, "queued", False, False)] * 3

    assert _as_service_role(db, "select public.drain_webhooks(1000)")["processed"] == 3
    assert _processed_in_full(db, ids) == [(True, "processed", True, True)] * 3


def test_the_in_call_scenario_processes_each_delivery_in_full(db: psycopg.Connection) -> None:
    db.execute(webhooks.UNIQUE_SETUP.replace(f"generate_series(1, {webhooks.POOL})", "generate_series(1, 5)").encode())
    results = [_as_service_role(db, webhooks.IN_CALL_SCRIPT) for _ in range(3)]

    assert [r["status"] for r in results] == ["processed"] * 3
    assert _processed_in_full(db, [r["webhook_id"] for r in results]) == [(True, "processed", True, True)] * 3


def test_the_floor_drain_writes_what_the_drain_writes(db: psycopg.Connection) -> None:
    db.execute(webhooks.UNIQUE_SETUP.replace(f"generate_series(1, {webhooks.POOL})", "generate_series(1, 5)").encode())
    for _ in range(3):
        db.execute(webhooks.FLOOR_ACK_SCRIPT.encode())
    ids = [r[0] for r in db.execute("select id from public.webhook_queue where status = 'queued' order by id")]
    assert len(ids) == 3

    db.execute(webhooks.FLOOR_DRAIN.encode())

    assert _processed_in_full(db, ids) == [(True, "processed", True, True)] * 3
    assert db.execute(
        "select sum(used)::int from public.usage_limits where metric = 'sms' and workspace_id in"
        " (select workspace_id from public.sms_events)"
    ).fetchone() == (3,)


def test_a_run_that_outlasts_the_pool_fails_instead_of_measuring_something_else(db: psycopg.Connection) -> None:
    db.execute(webhooks.UNIQUE_SETUP.replace(f"generate_series(1, {webhooks.POOL})", "generate_series(1, 1)").encode())
    assert _as_service_role(db, webhooks.UNIQUE_SCRIPT)["status"] == "queued"
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
