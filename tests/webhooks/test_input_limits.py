"""Bad input gets a clear answer and is never silently dropped: arguments that are not a
delivery at all raise 22023 (nothing written); authentic deliveries missing the
provider's required fields are stored rejected with the reason."""

from __future__ import annotations

import json

import pytest

from harness.rpc import RpcError
from tests.support.webhooks import Ops, Sign, e164, standard_event, twilio_inbound_sms


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"provider": "stripe", "payload": {"id": "evt_1"}}, "unknown_provider"),
        ({"provider": None, "payload": {"id": "evt_1"}}, "unknown_provider"),
        ({"provider": "twilio", "payload": ["MessageSid", "SM1"]}, "malformed_payload"),
        ({"provider": "meta", "payload": "a string"}, "malformed_payload"),
        ({"provider": "meta", "payload": 42}, "malformed_payload"),
        ({"provider": "meta", "payload": None}, "malformed_payload"),
        ({"provider": "meta", "payload": {"object": "page"}, "headers": ["x-hub-signature-256"]}, "malformed_headers"),
    ],
)
def test_arguments_that_are_not_a_delivery_raise_22023_and_write_nothing(
    rpc, ops: Ops, args: dict, message: str
) -> None:
    with pytest.raises(RpcError) as err:
        rpc("ingest_webhook", args)
    assert (err.value.sqlstate, err.value.status, err.value.message) == ("22023", 400, message)
    assert err.value.detail and err.value.hint
    assert ops.count("webhook_queue") == 0


def test_oversize_delivery_raises_22023_with_the_limit(rpc, sign: Sign, ops: Ops) -> None:
    huge = twilio_inbound_sms(e164(), e164(), body="x" * 300_000)
    with pytest.raises(RpcError) as err:
        rpc("ingest_webhook", sign.twilio(huge))
    assert (err.value.sqlstate, err.value.message) == ("22023", "payload_too_large")
    assert "262144" in (err.value.detail or "")
    assert ops.count("webhook_queue") == 0


def test_just_under_the_limit_is_accepted(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    long_sms = twilio_inbound_sms(agent.phone_number, e164(), body="y" * 100_000)
    assert deliver(sign.twilio(long_sms))["status"] == "processed"


def test_authentic_delivery_missing_required_fields_is_stored_rejected(rpc, sign: Sign, ops: Ops) -> None:
    params = twilio_inbound_sms(e164(), e164())
    del params["To"]
    result = rpc("ingest_webhook", sign.twilio(params))

    assert (result["status"], result["error"]) == ("rejected", "missing_required_fields: To")
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["signature_valid"], row["payload"]) == ("rejected", True, params)
    assert ops.alerts("signature_failure") == []  # authentic: not a signature problem


def test_meta_delivery_without_entries_is_stored_rejected(rpc, sign: Sign, ops: Ops) -> None:
    result = rpc("ingest_webhook", sign.meta({"object": "whatsapp_business_account"}))
    assert (result["status"], result["error"]) == ("rejected", "missing_required_fields: entry")


def test_standard_webhook_without_type_is_stored_rejected(rpc, sign: Sign, ops: Ops) -> None:
    body = standard_event()
    del body["type"]
    assert rpc("ingest_webhook", sign.standard(body))["error"] == "missing_required_fields: type"


def test_raw_body_that_is_not_json_is_rejected(rpc, sign: Sign, ops: Ops) -> None:
    args = sign.meta({"object": "page", "entry": []}, raw="object=page&entry=")
    assert rpc("ingest_webhook", args)["error"] == "raw_body_not_json"


def test_unparseable_field_dead_letters_processing_and_keeps_the_row(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, e164(), NumSegments="two")
    result = deliver(sign.twilio(params))
    # A class 22 error can never pass on a retry: dead letter at once.
    assert result["status"] == "dead_letter" and result["error"].startswith("22P02")
    assert ops.webhook(result["webhook_id"])["payload"] == params
    assert ops.count("sms_events") == 0


@pytest.mark.parametrize("who", ["anon", "authenticated"])
def test_only_the_backend_may_ingest(rpc, sign: Sign, ops: Ops, factories, who: str) -> None:
    caller = "anon" if who == "anon" else factories.user().jwt
    with pytest.raises(RpcError) as err:
        rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(e164(), e164())), as_=caller)
    assert err.value.sqlstate == "42501"
    assert ops.count("webhook_queue") == 0


def test_header_names_are_case_insensitive(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    args["headers"] = {"X-TWILIO-SIGNATURE": args["headers"]["X-Twilio-Signature"]}
    result = deliver(args)
    assert result["status"] == "processed"
    assert json.dumps(ops.webhook(result["webhook_id"])["headers"]) == json.dumps(
        {"x-twilio-signature": args["headers"]["X-TWILIO-SIGNATURE"]}
    )


def test_forwarded_credentials_are_never_stored(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    args["headers"] = {
        **args["headers"],
        "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.service-role",
        "apikey": "sb_secret_abc123",
        "Cookie": "session=s3cr3t",
        "I-Twilio-Idempotency-Token": "5c6d2f0e-idem",
    }
    result = deliver(args)
    assert result["status"] == "processed"
    stored = ops.webhook(result["webhook_id"])["headers"]
    assert sorted(stored) == ["content-type", "i-twilio-idempotency-token", "x-twilio-signature"]
    assert ops.count("webhook_queue", "headers::text like '%%s3cr3t%%' or headers::text like '%%eyJhbGci%%'") == 0
