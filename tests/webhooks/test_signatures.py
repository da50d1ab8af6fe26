"""Signatures are verified in the database, against the providers' own reference code:
valid deliveries are processed, forged or unsigned ones are stored rejected, never
processed, and raise one signature_failure alert per provider per hour."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import psycopg
import pytest
from twilio.request_validator import RequestValidator

from tests.support.paymob import paymob_transaction
from tests.support.webhooks import (
    TWILIO_SMS_URL,
    TWILIO_VOICE_URL,
    Ops,
    Secrets,
    Sign,
    e164,
    messenger_message,
    standard_event,
    twilio_call_status,
    twilio_inbound_sms,
    whatsapp_message,
)

from harness.rows import scalar


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (TWILIO_SMS_URL, {"Body": "hello", "From": "+14155550100", "To": "+14155550101"}),
        # Sorting is by code point: upper case before lower case, '_' between them.
        ("https://example.test/a?x=1&y=2", {"b": "1", "B": "2", "a_b": "3", "ab": "4", "Body": "ünïcödé ✓ 🎉"}),
        ("https://example.test:8443/hook", {"Body": "", "Empty": "", "NumMedia": "0"}),
        ("https://example.test/no-params", {}),
    ],
)
def test_twilio_signature_equals_request_validator(db: psycopg.Connection, url: str, params: dict) -> None:
    expected = RequestValidator("12345abcdef").compute_signature(url, params)
    got = db.execute(
        "select private.twilio_signature('12345abcdef', %s, %s::jsonb)", (url, json.dumps(params))
    ).fetchone()
    assert got == (expected,)


def test_twilio_sha256_signature_equals_request_validator(db: psycopg.Connection) -> None:
    params = twilio_inbound_sms("+14155550101", "+14155550100")
    expected = RequestValidator("shared-key-secret").compute_signature(TWILIO_SMS_URL, params, "HMAC_SHA256")
    got = db.execute(
        "select private.twilio_signature('shared-key-secret', %s, %s::jsonb, 'sha256')",
        (TWILIO_SMS_URL, json.dumps(params)),
    ).fetchone()
    assert got == (expected,)


def test_signed_twilio_sms_is_processed(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    result = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, "+14155550100")))
    assert result["status"] == "processed"
    assert ops.webhook(result["webhook_id"])["signature_valid"] is True


def test_tampered_twilio_sms_is_rejected_and_not_processed(rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, "+14155550100", body="Pay 10 EGP"))
    args["payload"] = {**args["payload"], "Body": "Pay 10000 EGP"}  # changed in transit

    result = rpc("ingest_webhook", args)

    assert result["status"] == "rejected" and result["duplicate"] is False
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["signature_valid"], row["last_error"]) == ("rejected", False, "signature_mismatch")
    assert row["payload"]["Body"] == "Pay 10000 EGP"  # kept raw, as evidence
    assert ops.count("sms_events") == 0
    assert ops.usage(agent.workspace_id, "sms") == 0


def test_twilio_delivery_without_signature_or_url_is_rejected(rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    unsigned = sign.twilio(twilio_inbound_sms(agent.phone_number, "+14155550100"))
    unsigned["headers"] = {}
    no_url = sign.twilio(twilio_inbound_sms(agent.phone_number, "+14155550100"))
    del no_url["url"]

    assert rpc("ingest_webhook", unsigned)["error"] == "missing_signature"
    assert rpc("ingest_webhook", no_url)["error"] == "missing_url"
    assert ops.count("webhook_queue", "status = 'rejected'") == 2
    assert ops.count("sms_events") == 0


def test_twilio_signature_for_the_url_with_or_without_its_port_is_accepted(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    params = twilio_call_status(agent.phone_number, "+14155550100")
    # Twilio signed the URL with :443; the function receives it without (and the reverse).
    signed_with_port = RequestValidator(sign.secrets.twilio_auth_token).compute_signature(
        TWILIO_VOICE_URL.replace("example.test/", "example.test:443/"), params
    )
    first = deliver(sign.twilio(params, url=TWILIO_VOICE_URL, signature=signed_with_port))
    params2 = twilio_call_status(agent.phone_number, "+14155550100")
    port_url = "https://api.example.test:8443/webhooks/twilio/voice-status"
    signed_without_port = RequestValidator(sign.secrets.twilio_auth_token).compute_signature(
        port_url.replace(":8443", ""), params2
    )
    second = deliver(sign.twilio(params2, url=port_url, signature=signed_without_port))

    assert (first["status"], second["status"]) == ("processed", "processed")


def test_twilio_json_body_is_checked_by_its_sha256(rpc, sign: Sign, ops: Ops, secrets: Secrets) -> None:
    body = json.dumps({"event": "probe", "value": 1})
    url = f"https://api.example.test/webhooks/twilio/events?bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"
    validator = RequestValidator(secrets.twilio_auth_token)
    signature = validator.compute_signature(url, {})
    assert validator.validate(url, body, signature)
    args = {"provider": "twilio", "payload": json.loads(body), "headers": {"X-Twilio-Signature": signature}, "url": url}

    good = rpc("ingest_webhook", {**args, "raw_body": body})
    bad = rpc("ingest_webhook", {**args, "raw_body": body.replace("1", "2")})

    # Authentic, but not a call or message event: stored and rejected for its missing fields.
    assert ops.webhook(good["webhook_id"])["signature_valid"] is True
    assert bad["error"] == "body_hash_mismatch"


def test_signed_meta_deliveries_are_processed(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent(channels={"whatsapp": "106540352242922", "messenger": "112233445566778"})
    wa = deliver(sign.meta(whatsapp_message("106540352242922")))
    fb = deliver(sign.meta(messenger_message("112233445566778")))
    assert (wa["status"], fb["status"]) == ("processed", "processed")
    assert ops.count("messages", "workspace_id = %s", agent.workspace_id) == 2


def test_meta_signature_covers_the_raw_body_byte_for_byte(deliver, sign: Sign, ops: Ops) -> None:
    ops.agent(channels={"whatsapp": "106540352242922"})
    body = whatsapp_message("106540352242922", text="café ☕")
    # Meta escapes non-ASCII in its body; the signature is over exactly those bytes.
    escaped = deliver(sign.meta(body, raw=json.dumps(body, ensure_ascii=True)))
    tampered = sign.meta(whatsapp_message("106540352242922", text="café ☕"))
    tampered["raw_body"] = tampered["raw_body"].replace("caf", "CAF")
    tampered["payload"] = json.loads(tampered["raw_body"])

    assert escaped["status"] == "processed"
    assert deliver(tampered)["error"] == "signature_mismatch"


def test_meta_payload_must_be_the_signed_body(rpc, sign: Sign, ops: Ops) -> None:
    ops.agent(channels={"whatsapp": "106540352242922"})
    args = sign.meta(whatsapp_message("106540352242922", text="genuine"))
    args["payload"] = whatsapp_message("106540352242922", text="swapped")
    result = rpc("ingest_webhook", args)
    assert (result["status"], result["error"]) == ("rejected", "payload_mismatch")
    assert ops.count("messages") == 0


def test_meta_malformed_or_missing_signature_is_rejected(rpc, sign: Sign, ops: Ops) -> None:
    args = sign.meta(whatsapp_message("106540352242922"))
    assert rpc("ingest_webhook", {**args, "headers": {"X-Hub-Signature-256": "sha256=zz"}})["error"] == (
        "malformed_signature"
    )
    assert rpc("ingest_webhook", {**args, "headers": {}})["error"] == "missing_signature"
    assert rpc("ingest_webhook", {**args, "raw_body": None})["error"] == "missing_raw_body"


def test_standard_webhook_signed_by_the_reference_library_is_processed(deliver, sign: Sign, ops: Ops) -> None:
    result = deliver(sign.standard(standard_event()))
    assert result["status"] == "processed"
    assert result["idempotency_key"].startswith("msg:msg_")


def test_standard_webhook_accepts_any_of_several_signatures(deliver, sign: Sign, ops: Ops) -> None:
    args = sign.standard(standard_event())
    stale = "v1," + base64.b64encode(b"\x00" * 32).decode()
    args["headers"]["webhook-signature"] = f"v1a,ignored {stale} {args['headers']['webhook-signature']}"
    assert deliver(args)["status"] == "processed"


@pytest.mark.parametrize("minutes", [-6, 6])
def test_standard_webhook_outside_five_minutes_is_rejected(rpc, sign: Sign, ops: Ops, minutes: int) -> None:
    args = sign.standard(standard_event(), timestamp=datetime.now(tz=timezone.utc) + timedelta(minutes=minutes))
    result = rpc("ingest_webhook", args)
    assert (result["status"], result["error"]) == ("rejected", "timestamp_out_of_tolerance")


def test_standard_webhook_tampered_body_is_rejected(rpc, sign: Sign, ops: Ops) -> None:
    args = sign.standard(standard_event())
    args["raw_body"] = args["raw_body"].replace("150000", "1")
    args["payload"] = json.loads(args["raw_body"])
    assert rpc("ingest_webhook", args)["error"] == "signature_mismatch"


def test_signature_failures_raise_one_alert_per_provider_per_hour(rpc, sign: Sign, ops: Ops, db) -> None:
    agent = ops.agent()
    for _ in range(3):
        forged = sign.twilio(twilio_inbound_sms(agent.phone_number, "+14155550100"), signature="Zm9yZ2Vk")
        assert rpc("ingest_webhook", forged)["status"] == "rejected"
    forged_meta = sign.meta(whatsapp_message("106540352242922"))
    forged_meta["headers"]["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    rpc("ingest_webhook", forged_meta)

    alerts = ops.alerts("signature_failure")
    assert sorted(a["details"]["provider"] for a in alerts) == ["meta", "twilio"]
    hour = scalar(db, "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24')")
    assert {a["dedupe_key"] for a in alerts} == {f"signature_failure:twilio:{hour}", f"signature_failure:meta:{hour}"}

    # A new hour window opens a new alert for the same provider.
    db.execute("update public.alerts set dedupe_key = dedupe_key || ':earlier' where type = 'signature_failure'")
    rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, "+1415555"), signature="eA=="))
    assert len(ops.alerts("signature_failure")) == 3


def test_a_valid_delivery_raises_no_signature_alert(rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, "+14155550100")))
    assert ops.alerts("signature_failure") == []


def test_missing_secret_keeps_the_delivery_failed_until_the_sweeper_can_verify_it(
    rpc, db: psycopg.Connection, ops: Ops
) -> None:
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, "+14155550100")
    token = "configured-later"
    args = {
        "provider": "twilio",
        "payload": params,
        "headers": {"X-Twilio-Signature": RequestValidator(token).compute_signature(TWILIO_SMS_URL, params)},
        "raw_body": urlencode(params),
        "url": TWILIO_SMS_URL,
    }

    first = rpc("ingest_webhook", args)

    assert first["status"] == "failed" and "secret_not_found" in first["error"]
    row = ops.webhook(first["webhook_id"])
    assert (row["signature_valid"], row["attempts"]) == (None, 1)
    assert ops.count("sms_events") == 0

    db.execute("select vault.create_secret(%s, 'twilio_auth_token')", (token,))
    ops.make_due()
    assert rpc("retry_failed_webhooks", {})["succeeded"] == 1
    row = ops.webhook(first["webhook_id"])
    assert (row["status"], row["signature_valid"]) == ("processed", True)
    assert ops.count("sms_events") == 1


def test_sweeper_rejects_a_forged_delivery_it_verifies_late(rpc, db: psycopg.Connection, ops: Ops) -> None:
    agent = ops.agent()
    args = {
        "provider": "twilio",
        "payload": twilio_inbound_sms(agent.phone_number, e164()),
        "headers": {"X-Twilio-Signature": "Zm9yZ2VkIHNpZ25hdHVyZQ=="},
        "url": TWILIO_SMS_URL,
    }
    webhook_id = rpc("ingest_webhook", args)["webhook_id"]
    db.execute("select vault.create_secret('the-real-token', 'twilio_auth_token')")
    ops.make_due()

    assert rpc("retry_failed_webhooks", {})["rejected"] == 1
    row = ops.webhook(webhook_id)
    assert (row["status"], row["signature_valid"], row["last_error"]) == ("rejected", False, "signature_mismatch")
    assert ops.count("sms_events") == 0
    assert len(ops.alerts("signature_failure")) == 1


def _tamper_json(args: dict, old: str, new: str) -> dict:
    raw = args["raw_body"].replace(old, new)
    assert raw != args["raw_body"]
    return {**args, "raw_body": raw, "payload": json.loads(raw)}


def test_every_provider_processes_its_genuine_delivery_and_rejects_a_tampered_one(
    deliver, rpc, sign: Sign, ops: Ops, factories
) -> None:
    agent = ops.agent(channels={"sms": None, "voice": None, "whatsapp": "106540352242922", "messenger": "11223344"})
    ws = factories.workspace()
    payment = rpc(
        "create_payment_request", {"workspace_id": str(ws.id), "plan_key": "pro", "provider": "paymob"}, as_=ws.owner.jwt
    )
    sms = twilio_inbound_sms(agent.phone_number, e164(), body="genuine")
    call = twilio_call_status(agent.phone_number, e164(), duration=42)
    genuine = {
        "twilio sms": sign.twilio(sms),
        "twilio voice": sign.twilio(call, url=TWILIO_VOICE_URL),
        "whatsapp": sign.meta(whatsapp_message("106540352242922", text="genuine")),
        "messenger": sign.meta(messenger_message("11223344", text="genuine")),
        "paymob": sign.paymob(paymob_transaction(payment["reference"], int(payment["amount"]), payment["currency"])),
        "standard": sign.standard(standard_event("invoice.paid")),
    }
    tampered = {
        "twilio sms": {**genuine["twilio sms"], "payload": {**sms, "Body": "tampered"}},
        "twilio voice": {**genuine["twilio voice"], "payload": {**call, "CallDuration": "4200"}},
        "whatsapp": _tamper_json(genuine["whatsapp"], "genuine", "tampered"),
        "messenger": _tamper_json(genuine["messenger"], "genuine", "tampered"),
        "paymob": {**genuine["paymob"], "payload": {**genuine["paymob"]["payload"], "obj": {
            **genuine["paymob"]["payload"]["obj"], "amount_cents": 1}}},
        "standard": _tamper_json(genuine["standard"], "invoice.paid", "invoice.void"),
    }  # fmt: skip

    bad = {name: deliver(args) for name, args in tampered.items()}
    good = {name: deliver(args) for name, args in genuine.items()}

    assert {n: (r["status"], r["error"]) for n, r in bad.items()} == {n: ("rejected", "signature_mismatch") for n in bad}
    assert {n: r["status"] for n, r in good.items()} == {n: "processed" for n in good}
    assert ops.count("sms_events", "body = 'genuine'") == 1 and ops.count("sms_events") == 1
    assert ops.scalar("select duration_seconds from public.call_events") == 42
    assert ops.count("messages", "body = 'genuine'") == 2 and ops.count("messages") == 2
    assert ops.scalar("select status from public.payments where id = %s", payment["payment_id"]) == "confirmed"
    assert ops.count("webhook_queue", "status = 'rejected' and signature_valid = false") == 6


def test_twilio_signature_settings_header_selects_hmac_sha256(deliver, sign: Sign, ops: Ops, secrets: Secrets) -> None:
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, e164())
    validator = RequestValidator(secrets.twilio_auth_token)
    settings = "key=webhooks_sharedkey_demo,algorithm=HMAC_SHA256"
    signature = validator.compute_signature(TWILIO_SMS_URL, params, "HMAC_SHA256")
    assert validator.validate(TWILIO_SMS_URL, params, signature, "HMAC_SHA256")
    args = sign.twilio(params, signature=signature)
    args["headers"]["X-Twilio-Webhooks-Signature-Settings"] = settings

    assert deliver(args)["status"] == "processed"
    unsupported = {**args, "headers": {**args["headers"], "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_MD5"}}
    assert deliver(unsupported)["error"] == "unsupported_algorithm"
