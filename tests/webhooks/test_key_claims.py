"""Only a delivery whose signature passed claims its idempotency key: a copy whose
check could not run (secret missing) or that fails the check never shadows the
genuine delivery that follows it, and a body the signature check cannot parse is a
rejection, not a check that "could not run"."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

import psycopg
import pytest
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from tests.support.webhooks import (
    TWILIO_SMS_URL,
    TWILIO_VOICE_URL,
    Ops,
    Secrets,
    Sign,
    e164,
    twilio_call_status,
    twilio_inbound_sms,
    whatsapp_message,
)

# Bodies PostgreSQL's JSON parser refuses with something other than 22P02:
# numeric overflow (22003), \u0000 (22P05), nesting too deep (54001).
UNPARSEABLE_BODIES = {
    "numeric_overflow": '{"a":1e1000000}',
    "nul_escape": '{"a":"\\u0000"}',
    "too_deep": "[" * 100000 + "]" * 100000,
}


def test_an_unchecked_forged_copy_does_not_shadow_the_genuine_delivery(
    deliver, rpc, db: psycopg.Connection, ops: Ops
) -> None:
    # Trigger A: the Twilio token is missing from Vault when a forged copy arrives.
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, e164(), body="genuine")
    token = "configured-a-moment-later"
    forged = {
        "provider": "twilio",
        "payload": {**params, "Body": "forged"},
        "headers": {"X-Twilio-Signature": "Zm9yZ2VkIHNpZ25hdHVyZQ=="},
        "url": TWILIO_SMS_URL,
    }
    first = rpc("ingest_webhook", forged)
    assert first["status"] == "failed" and "secret_not_found" in first["error"]

    db.execute("select vault.create_secret(%s, 'twilio_auth_token')", (token,))
    genuine = {
        "provider": "twilio",
        "payload": params,
        "headers": {"X-Twilio-Signature": RequestValidator(token).compute_signature(TWILIO_SMS_URL, params)},
        "url": TWILIO_SMS_URL,
    }
    second = deliver(genuine)
    ops.make_due()
    sweep = rpc("retry_failed_webhooks", {})

    assert (second["status"], second["duplicate"]) == ("processed", False)
    assert sweep["rejected"] == 1
    assert ops.webhook(first["webhook_id"])["status"] == "rejected"
    assert ops.count("sms_events") == 1 and ops.count("sms_events", "body = 'genuine'") == 1


@pytest.mark.parametrize("raw_body", UNPARSEABLE_BODIES.values(), ids=UNPARSEABLE_BODIES.keys())
def test_a_forged_body_hash_delivery_is_rejected_and_the_genuine_callback_processed(
    deliver, rpc, sign: Sign, ops: Ops, raw_body: str
) -> None:
    # Trigger B, with the secret present: a forged call status for a victim's CallSid whose
    # URL carries the (keyless) SHA-256 of a body the JSON parser refuses.
    agent = ops.agent()
    params = twilio_call_status(agent.phone_number, e164(), duration=42)
    url = f"{TWILIO_VOICE_URL}?bodySHA256={hashlib.sha256(raw_body.encode()).hexdigest()}"
    forged = {
        "provider": "twilio",
        "payload": params,
        "headers": {"X-Twilio-Signature": "Zm9yZ2VkIHNpZ25hdHVyZQ=="},
        "raw_body": raw_body,
        "url": url,
    }

    bad = rpc("ingest_webhook", forged)
    good = deliver(sign.twilio(params, url=TWILIO_VOICE_URL))

    assert (bad["status"], bad["error"]) == ("rejected", "signature_mismatch")
    assert ops.webhook(bad["webhook_id"])["signature_valid"] is False
    assert (good["status"], good["duplicate"]) == ("processed", False)
    assert ops.count("call_events") == 1 and ops.scalar("select duration_seconds from public.call_events") == 42
    assert ops.alerts("webhook_failure") == []


@pytest.mark.parametrize("raw_body", UNPARSEABLE_BODIES.values(), ids=UNPARSEABLE_BODIES.keys())
def test_a_signed_body_the_parser_refuses_is_rejected_not_left_unchecked(
    rpc, sign: Sign, ops: Ops, secrets: Secrets, raw_body: str
) -> None:
    url = f"https://api.example.test/webhooks/twilio/events?bodySHA256={hashlib.sha256(raw_body.encode()).hexdigest()}"
    twilio = {
        "provider": "twilio",
        "payload": {"event": "probe"},
        "headers": {"X-Twilio-Signature": RequestValidator(secrets.twilio_auth_token).compute_signature(url, {})},
        "raw_body": raw_body,
        "url": url,
    }
    meta = sign.meta(whatsapp_message("106540352242922"), raw=raw_body)
    now = datetime.now(tz=timezone.utc)
    standard = {
        "provider": "standard",
        "payload": {"type": "probe"},
        "headers": {
            "webhook-id": "msg_probe",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secrets.standard_webhook_secret).sign("msg_probe", now, raw_body),
        },
        "raw_body": raw_body,
    }

    deliveries = {"twilio": twilio, "meta": meta, "standard": standard}
    results = {name: rpc("ingest_webhook", args) for name, args in deliveries.items()}

    assert {n: (r["status"], r["error"]) for n, r in results.items()} == {
        n: ("rejected", "raw_body_not_json") for n in results
    }
    assert ops.count("webhook_queue", "signature_valid is null") == 0
    assert ops.alerts("webhook_failure") == []


def test_two_unchecked_copies_verified_later_are_processed_once(rpc, db: psycopg.Connection, ops: Ops) -> None:
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, e164())
    token = "configured-later"
    args: dict[str, Any] = {
        "provider": "twilio",
        "payload": params,
        "headers": {"X-Twilio-Signature": RequestValidator(token).compute_signature(TWILIO_SMS_URL, params)},
        "url": TWILIO_SMS_URL,
    }
    first = rpc("ingest_webhook", args)
    second = rpc("ingest_webhook", {**args, "headers": {**args["headers"], "I-Twilio-Idempotency-Token": "again"}})
    assert [r["status"] for r in (first, second)] == ["failed", "failed"]

    db.execute("select vault.create_secret(%s, 'twilio_auth_token')", (token,))
    ops.make_due()
    sweep = rpc("retry_failed_webhooks", {})

    rows = {r["id"]: r for r in (ops.webhook(first["webhook_id"]), ops.webhook(second["webhook_id"]))}
    assert sorted(r["status"] for r in rows.values()) == ["duplicate", "processed"]
    (dup,) = [r for r in rows.values() if r["status"] == "duplicate"]
    (held,) = [r for r in rows.values() if r["status"] == "processed"]
    assert (dup["duplicate_of"], dup["signature_valid"], held["signature_valid"]) == (held["id"], True, True)
    assert (sweep["retried"], sweep["succeeded"], sweep["duplicate"]) == (2, 1, 1)
    assert ops.count("sms_events") == 1


def test_a_late_verified_copy_becomes_a_duplicate_of_the_verified_holder(
    deliver, rpc, db: psycopg.Connection, ops: Ops
) -> None:
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, e164())
    token = "configured-later"
    args: dict[str, Any] = {
        "provider": "twilio",
        "payload": params,
        "headers": {"X-Twilio-Signature": RequestValidator(token).compute_signature(TWILIO_SMS_URL, params)},
        "url": TWILIO_SMS_URL,
    }
    unchecked = rpc("ingest_webhook", args)
    db.execute("select vault.create_secret(%s, 'twilio_auth_token')", (token,))
    holder = deliver({**args, "headers": {**args["headers"], "I-Twilio-Idempotency-Token": "again"}})
    assert (unchecked["status"], holder["status"]) == ("failed", "processed")

    ops.make_due()
    rpc("replay_webhook", {"webhook_id": unchecked["webhook_id"], "reason": "secret configured"})

    row = ops.webhook(unchecked["webhook_id"])
    assert (row["status"], row["duplicate_of"], row["signature_valid"]) == ("duplicate", holder["webhook_id"], True)
    assert ops.count("sms_events") == 1


def test_an_unchecked_copy_of_a_verified_delivery_is_stored_as_its_duplicate(
    rpc, sign: Sign, db: psycopg.Connection, ops: Ops
) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    first = rpc("ingest_webhook", args)
    db.execute("delete from vault.secrets where name = 'twilio_auth_token'")

    copy = rpc("ingest_webhook", {**args, "headers": {"X-Twilio-Signature": "c29tZXRoaW5nIGVsc2U="}})

    assert (copy["status"], copy["original_webhook_id"]) == ("duplicate", first["webhook_id"])
    assert ops.webhook(copy["webhook_id"])["signature_valid"] is None
