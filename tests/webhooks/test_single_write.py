"""The raw row is written as few times as its outcome needs.

Processed in the call (process_now): ingest_webhook writes the claimed raw row once,
already saying processed, and corrects it in the same transaction when the outcome
is anything else. A processed delivery is the usual case, so its row is inserted
with status processed, attempts 1 and processed_at, and no UPDATE follows. Every
other outcome (a processing failure, an unknown number, a skip reason) rewrites the
row before the call returns: no row ever says processed for a delivery that was not.

Queued (the default): the acknowledgement inserts the row saying queued, and the
drain writes each row's outcome once, in one UPDATE per chunk.
"""

from __future__ import annotations

import psycopg

from harness.testing import Rpc
from tests.support.webhooks import Ops, Sign, e164, twilio_inbound_sms


def in_the_call(args: dict) -> dict:
    return {**args, "process_now": True}


def _queue_updates(rpc: Rpc, db: psycopg.Connection) -> int:
    """Row updates of webhook_queue counted so far, with the rpc session's statistics flushed first."""
    rpc.conn.execute("select pg_stat_force_next_flush()")
    rpc.conn.commit()
    db.execute("select pg_stat_clear_snapshot()")
    row = db.execute(
        "select n_tup_upd from pg_stat_user_tables where relid = 'public.webhook_queue'::regclass"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_processed_delivery_is_stored_once_without_an_update(
    rpc, sign: Sign, ops: Ops, db: psycopg.Connection
) -> None:
    agent = ops.agent()
    before = _queue_updates(rpc, db)

    result = rpc("ingest_webhook", in_the_call(sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))))

    assert result["status"] == "processed"
    assert _queue_updates(rpc, db) == before
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["last_error"], row["skip_reason"], row["next_attempt_at"]) == (
        "processed",
        1,
        None,
        None,
        None,
    )
    assert row["processed_at"] == row["received_at"]  # both now(): the same transaction
    assert ops.count("sms_events", "webhook_id = %s", result["webhook_id"]) == 1


def test_a_failed_processing_is_not_left_saying_processed(rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events", "sms store is down")

    result = rpc("ingest_webhook", in_the_call(sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))))

    assert result["status"] == "failed"
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["processed_at"]) == ("failed", 1, None)
    assert row["next_attempt_at"] is not None


def test_an_unknown_number_is_recorded_with_one_attempt(rpc, sign: Sign, ops: Ops, db: psycopg.Connection) -> None:
    before = _queue_updates(rpc, db)

    result = rpc("ingest_webhook", in_the_call(sign.twilio(twilio_inbound_sms(e164(), e164()))))

    assert result["status"] == "unknown_phone"
    assert _queue_updates(rpc, db) == before + 1  # the one correction of the row
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["last_error"]) == ("unknown_phone", 1, None)
    assert row["processed_at"] is not None


def test_a_skip_reason_is_recorded_on_the_row(rpc, sign: Sign, ops: Ops, db: psycopg.Connection) -> None:
    agent = ops.agent()
    db.execute("update public.agent_channels set is_active = false where agent_id = %s", (agent.id,))

    result = rpc("ingest_webhook", in_the_call(sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))))

    assert (result["status"], result["skip_reason"]) == ("processed", "channel_disabled")
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["skip_reason"], row["attempts"]) == ("processed", "channel_disabled", 1)


def test_a_queued_delivery_is_inserted_once_and_its_outcome_written_once(
    rpc, sign: Sign, ops: Ops, db: psycopg.Connection
) -> None:
    agent = ops.agent()
    before = _queue_updates(rpc, db)

    acks = [rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))) for _ in range(3)]
    unknown = rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(e164(), e164())))

    assert [a["status"] for a in acks + [unknown]] == ["queued"] * 4
    assert _queue_updates(rpc, db) == before  # acknowledged with one insert each
    row = ops.webhook(acks[0]["webhook_id"])
    assert (row["status"], row["attempts"], row["processed_at"], row["next_attempt_at"]) == ("queued", 0, None, None)

    summary = rpc("drain_webhooks", {})
    assert summary.pop("job_run_id") is not None
    assert summary == {"drained": 4, "processed": 3, "unknown_phone": 1, "failed": 0, "dead_lettered": 0}
    assert _queue_updates(rpc, db) == before + 4  # one update per row, its outcome
    rows = [ops.webhook(a["webhook_id"]) for a in acks + [unknown]]
    assert [(r["status"], r["attempts"], r["last_error"]) for r in rows] == [("processed", 1, None)] * 3 + [
        ("unknown_phone", 1, None)
    ]
    assert all(r["processed_at"] is not None for r in rows)
