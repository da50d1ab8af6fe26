"""Idempotency keys come from the providers' own ids; a duplicate delivery is stored as
`duplicate` and never processed twice, also when copies race on many connections."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.support.paymob import paymob_transaction
from tests.support.webhooks import (
    TWILIO_VOICE_URL,
    Ops,
    Sign,
    e164,
    messenger_message,
    standard_event,
    twilio_call_status,
    twilio_inbound_sms,
    whatsapp_message,
)


def _key(db: psycopg.Connection, provider: str, payload: dict, headers: dict | None = None) -> str:
    row = db.execute(
        "select (private.classify_webhook(%s, %s::jsonb, %s::jsonb)).idempotency_key",
        (provider, json.dumps(payload), json.dumps(headers or {})),
    ).fetchone()
    assert row is not None
    return row[0]


def test_keys_come_from_the_providers_own_ids(db: psycopg.Connection) -> None:
    call = twilio_call_status("+14155550101", "+14155550100", status="ringing", CallSid="CA123")
    sms = twilio_inbound_sms("+14155550101", "+14155550100", MessageSid="SM456")
    status_callback = {"MessageSid": "SM789", "MessageStatus": "delivered", "To": "+1", "From": "+2"}
    wa = whatsapp_message("106540352242922", message_id="wamid.ABC")
    fb = messenger_message("112233445566778", mid="m_XYZ")
    paymob = paymob_transaction("PAY-1", 150000, txn_id=192036465)

    assert _key(db, "twilio", call) == "call:CA123:ringing"
    assert _key(db, "twilio", sms) == "sms:SM456:received"
    assert _key(db, "twilio", status_callback) == "sms:SM789:delivered"
    assert _key(db, "meta", wa) == "wa:wamid.ABC"
    assert _key(db, "meta", fb) == "mid:m_XYZ"
    assert _key(db, "paymob", paymob) == "txn:192036465:success"
    assert _key(db, "standard", standard_event(), {"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}) == (
        "msg:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    )


def test_each_status_of_a_call_is_its_own_delivery(db: psycopg.Connection) -> None:
    ringing = twilio_call_status("+14155550101", "+1", status="ringing", CallSid="CA1")
    completed = twilio_call_status("+14155550101", "+1", status="completed", CallSid="CA1")
    assert _key(db, "twilio", ringing) != _key(db, "twilio", completed)


def test_without_provider_ids_the_key_is_a_hash_of_the_canonical_payload(db: psycopg.Connection) -> None:
    receipt = {"object": "page", "entry": [{"id": "1", "messaging": [{"read": {"watermark": 1}}]}]}
    reordered = json.loads(json.dumps(receipt, sort_keys=True))
    key = _key(db, "meta", receipt)
    assert key.startswith("sha256:") and len(key) == len("sha256:") + 64
    assert _key(db, "meta", reordered) == key
    assert _key(db, "meta", {**receipt, "object": "page2"}) != key


def test_duplicate_delivery_is_recorded_and_not_processed_twice(deliver, rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_call_status(agent.phone_number, e164(), duration=61), url=TWILIO_VOICE_URL)

    first = deliver(args)
    again = rpc("ingest_webhook", args)
    assert rpc("drain_webhooks", {})["drained"] == 0  # nothing of the copy to process

    assert (first["status"], first["duplicate"]) == ("processed", False)
    assert (again["status"], again["duplicate"]) == ("duplicate", True)
    assert again["idempotency_key"] == first["idempotency_key"]
    assert again["original_webhook_id"] == first["webhook_id"] and again["webhook_id"] != first["webhook_id"]
    copy = ops.webhook(again["webhook_id"])
    assert (copy["status"], copy["duplicate_of"], copy["payload"]) == ("duplicate", first["webhook_id"], args["payload"])
    assert ops.count("call_events") == 1
    assert ops.usage(agent.workspace_id, "call_minutes") == 2


def test_forged_copy_does_not_block_the_genuine_delivery(deliver, rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    genuine = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    forged = {**genuine, "headers": {"X-Twilio-Signature": "Zm9yZ2Vk"}}

    assert deliver(forged)["status"] == "rejected"
    assert deliver(genuine)["status"] == "processed"
    assert deliver(forged)["status"] == "rejected"  # never a "duplicate" of the real one
    assert ops.count("sms_events") == 1


@pytest.mark.parametrize("process_now", [None, True], ids=["queued", "in_the_call"])
def test_eight_concurrent_copies_end_as_one_processed_and_seven_duplicates(
    concurrently, rpc, sign: Sign, ops: Ops, process_now: bool | None
) -> None:
    agent = ops.agent()
    args = {**sign.twilio(twilio_inbound_sms(agent.phone_number, e164(), NumSegments="2")), "process_now": process_now}

    outcomes = concurrently([("ingest_webhook", args)] * 8)
    drained = rpc("drain_webhooks", {})

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    results = [data for _, data in outcomes]
    answered = "processed" if process_now else "queued"
    assert sorted(r["status"] for r in results) == ["duplicate"] * 7 + [answered]
    winner = next(r for r in results if r["status"] == answered)
    assert drained["drained"] == (0 if process_now else 1)
    assert ops.webhook(winner["webhook_id"])["status"] == "processed"
    assert {r["original_webhook_id"] for r in results if r["duplicate"]} == {winner["webhook_id"]}
    assert ops.count("webhook_queue") == 8  # every copy kept raw
    assert ops.count("webhook_queue", "status = 'duplicate' and duplicate_of = %s", winner["webhook_id"]) == 7
    assert ops.count("sms_events") == 1
    assert ops.usage(agent.workspace_id, "sms") == 2  # counted once (two segments)
    assert ops.count("usage_events", "workspace_id = %s", agent.workspace_id) == 1


def test_eight_concurrent_chat_copies_store_one_message(concurrently, rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent(channels={"whatsapp": "106540352242922"})
    args = sign.meta(whatsapp_message("106540352242922"))

    outcomes = concurrently([("ingest_webhook", args)] * 8)
    drained = rpc("drain_webhooks", {})

    assert sorted(data["status"] for _, data in outcomes) == ["duplicate"] * 7 + ["queued"]
    assert (drained["drained"], drained["processed"]) == (1, 1)
    assert ops.count("messages", "workspace_id = %s", agent.workspace_id) == 1
    assert ops.count("conversations", "workspace_id = %s", agent.workspace_id) == 1


def test_identical_redelivery_of_a_verified_delivery_skips_the_signature_check(
    deliver, rpc, sign: Sign, ops: Ops, db: psycopg.Connection
) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    first = deliver(args)
    # Without the secret no signature can be checked: only the byte-identical copy gets through.
    db.execute("delete from vault.secrets where name = 'twilio_auth_token'")

    again = rpc("ingest_webhook", args)
    other_signature = rpc("ingest_webhook", {**args, "headers": {"X-Twilio-Signature": "c29tZXRoaW5nIGVsc2U="}})
    other_url = rpc("ingest_webhook", {**args, "url": args["url"] + "?x=1"})

    assert (first["status"], again["status"]) == ("processed", "duplicate")
    assert ops.webhook(again["webhook_id"])["signature_valid"] is True  # known good without a check
    # Any difference sends a copy through the check, which cannot run now (signature unknown).
    for copy in (other_signature, other_url):
        assert copy["status"] == "duplicate"
        assert ops.webhook(copy["webhook_id"])["signature_valid"] is None
    assert ops.count("sms_events") == 1
