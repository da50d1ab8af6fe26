"""Ingest fuzz: random and hostile payloads, headers, raw bodies and URLs.

Every call either answers with a status and has its raw row stored (exactly one new
row, the one it names), or fails with a class 22 or 42501 error that names the
problem and writes nothing. Never another error, never a half-written row, never a
second processing of one delivery.

Each hostile input of the ingest contract has a case below (deep nesting, huge
numbers, invalid UTF-8 and \\u0000, duplicate JSON keys, header names differing
only by case, 256 KiB plus one byte, Twilio form bodies with repeated fields);
Hypothesis adds random ones around real signed deliveries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from harness.rpc import RpcError, call
from tests.support.webhooks import TWILIO_SMS_URL, Ops, Secrets, Sign, e164, twilio_inbound_sms

from harness.rows import scalar

STATUSES = {"processed", "duplicate", "unknown_phone", "failed", "rejected", "queued"}


def _rows(db: psycopg.Connection) -> int:
    return scalar(db, "select count(*) from public.webhook_queue")


def _processed_twice(db: psycopg.Connection) -> list[tuple[Any, ...]]:
    return db.execute(
        "select provider, idempotency_key, count(*) from public.webhook_queue"
        " where status = 'processed' group by 1, 2 having count(*) > 1"
    ).fetchall()


def ingest_obeys_the_contract(db: psycopg.Connection, api: psycopg.Connection, args: dict[str, Any]) -> Any:
    """Call ingest_webhook and check the rule; return the answer or the error."""
    before = _rows(db)
    try:
        answer = call(api, "ingest_webhook", args).data
    except RpcError as err:
        assert err.sqlstate[:2] == "22" or err.sqlstate == "42501", (err.sqlstate, err.message, err.detail)
        assert err.message, "the error names the problem"
        assert _rows(db) == before, "a refused call wrote a row"
        return err
    assert answer["status"] in STATUSES, answer
    assert _rows(db) == before + 1, "exactly the one raw row"
    row = db.execute("select status, payload from public.webhook_queue where id = %s", (answer["webhook_id"],)).fetchone()
    # A failure that can never pass on a retry is answered failed and stored dead_letter.
    assert row is not None and row[0] == ("dead_letter" if answer.get("dead_letter") else answer["status"])
    assert _processed_twice(db) == []
    return answer


@pytest.fixture
def api(connect: Callable[..., psycopg.Connection]) -> psycopg.Connection:
    return connect()


def _call_with_body(api: psycopg.Connection, body: str) -> Any:
    """ingest_webhook with a request body written by hand (deeper than Python's json module
    nests), read the way PostgREST and harness.rpc read an RPC body."""
    with api.transaction():
        api.execute("set local role service_role")
        api.execute(
            "select public.ingest_webhook(provider => r.provider, payload => r.payload, raw_body => r.raw_body)"
            " from json_to_record(%s::json) as r(provider text, payload jsonb, raw_body text)",
            (body,),
        )


def test_deep_nesting(db: psycopg.Connection, api: psycopg.Connection, sign: Sign) -> None:
    # 2,000 levels, within what PostgreSQL's JSON parser takes: an unsigned delivery is stored, rejected.
    deep = '{"x": ' * 2000 + '"bottom"' + "}" * 2000
    before = _rows(db)
    _call_with_body(api, '{"provider": "meta", "payload": {"object": "page", "deep": %s}, "raw_body": null}' % deep)
    assert _rows(db) == before + 1
    assert db.execute("select status from public.webhook_queue order by id desc limit 1").fetchone() == ("rejected",)
    # A signed body nested too deep for the parser is the sender's: rejected, stored.
    meta = sign.meta({"object": "page", "entry": []}, raw="[" * 30000 + "]" * 30000)
    assert ingest_obeys_the_contract(db, api, meta)["error"] == "raw_body_not_json"
    # Deeper than the parser takes, in the payload itself: refused while the request's
    # arguments are read, before ingest_webhook runs (SQLSTATE 54001; PostgREST reads its
    # body the same way), and nothing is written.
    deeper = "[" * 30000 + "]" * 30000
    with pytest.raises(psycopg.Error) as err:
        _call_with_body(api, '{"provider": "meta", "payload": {"deep": %s}}' % deeper)
    assert err.value.sqlstate == "54001" and _rows(db) == before + 2


def test_huge_numbers(db: psycopg.Connection, api: psycopg.Connection, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    # A signed SMS whose segment count no integer holds: stored, dead-lettered at once (class 22).
    huge = twilio_inbound_sms(agent.phone_number, e164(), NumSegments="9" * 40)
    answer = ingest_obeys_the_contract(db, api, {**sign.twilio(huge), "process_now": True})
    assert (answer["status"], answer["dead_letter"]) == ("failed", True) and answer["error"].startswith("22003")
    # Numbers JSON allows and numeric holds are stored as they are.
    body = {"object": "page", "entry": [], "n": 10**400, "f": 1.5e300}
    assert ingest_obeys_the_contract(db, api, sign.meta(body))["status"] in STATUSES
    # One past numeric's range: refused while reading the arguments, class 22.
    err = ingest_obeys_the_contract(db, api, {"provider": "meta", "payload": {"n": json.loads("1e1000000")}})
    assert isinstance(err, RpcError)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payload", {"Body": "nul \u0000 here"}),
        ("raw_body", "Body=nul\u0000"),
        ("headers", {"X-Twilio-Signature": "a\u0000b"}),
        ("url", "https://api.example.test/\u0000"),
        ("payload", {"Body": "lone surrogate \udcff"}),
        ("raw_body", "lone surrogate \ud800"),
    ],
)
def test_nul_and_invalid_unicode_are_refused_with_class_22(
    db: psycopg.Connection, api: psycopg.Connection, field: str, value: Any
) -> None:
    args: dict[str, Any] = {"provider": "twilio", "payload": {"MessageSid": "SM1"}, field: value}
    err = ingest_obeys_the_contract(db, api, args)
    assert isinstance(err, RpcError) and err.sqlstate[:2] == "22"


def test_invalid_utf8_bytes_are_refused_with_class_22(db: psycopg.Connection) -> None:
    before = _rows(db)
    with pytest.raises(psycopg.Error) as err:
        db.execute(b"select public.ingest_webhook('twilio', '{\"Body\": \"\xff\xfe\"}'::jsonb)")
    assert err.value.sqlstate == "22021" and _rows(db) == before


def test_duplicate_json_keys(db: psycopg.Connection, api: psycopg.Connection, sign: Sign) -> None:
    raw = '{"object": "page", "entry": [], "object": "whatsapp_business_account"}'
    signed = sign.meta({"object": "page", "entry": []}, raw=raw)
    # The body parses to its last duplicate (as jsonb keeps it), which is not the payload given.
    assert ingest_obeys_the_contract(db, api, signed)["error"] == "payload_mismatch"
    signed = sign.meta({"object": "whatsapp_business_account", "entry": []}, raw=raw)
    assert ingest_obeys_the_contract(db, api, signed)["status"] in STATUSES


def test_header_names_differing_only_by_case(db: psycopg.Connection, api: psycopg.Connection, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    genuine = args["headers"]["X-Twilio-Signature"]
    args["headers"] = {"X-Twilio-Signature": genuine, "x-twilio-signature": "forged", "X-TWILIO-SIGNATURE": genuine}
    answer = ingest_obeys_the_contract(db, api, args)
    # Two spellings of one header are one header with both values (HTTP's rule), which is
    # not a valid signature: rejected, and every value is kept in the raw row.
    assert (answer["status"], answer["error"]) == ("rejected", "signature_mismatch")
    stored = scalar(db, "select headers from public.webhook_queue where id = %s", (answer["webhook_id"],))
    assert sorted(stored["x-twilio-signature"].split(", ")) == sorted([genuine, genuine, "forged"])


def test_256_kib_plus_one_byte(db: psycopg.Connection, api: psycopg.Connection, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, e164(), Body="")
    args = sign.twilio(params)
    args["raw_body"] = "x" * (256 * 1024 + 1)
    err = ingest_obeys_the_contract(db, api, args)
    assert isinstance(err, RpcError) and (err.sqlstate, err.message) == ("22023", "payload_too_large")
    args["raw_body"] = "x" * (256 * 1024)
    # At the limit: stored (a Twilio form post is signed over its fields, not the raw body).
    assert ingest_obeys_the_contract(db, api, args)["status"] in STATUSES


class FormFields(dict):
    """A parsed form body with repeated fields, as twilio's validator reads one (getall)."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        super().__init__(items)
        self.items_ = items

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.items_ if k == name]


def test_twilio_form_bodies_with_repeated_fields(
    db: psycopg.Connection, api: psycopg.Connection, secrets: Secrets, ops: Ops
) -> None:
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, e164())
    # MediaUrl repeated, as a form body can carry it; the JSON payload lists both values.
    form = [*params.items(), ("MediaUrl", "https://a.example.test/1"), ("MediaUrl", "https://a.example.test/2")]
    payload = {**params, "MediaUrl": ["https://a.example.test/1", "https://a.example.test/2"]}
    signature = RequestValidator(secrets.twilio_auth_token).compute_signature(TWILIO_SMS_URL, FormFields(form))
    args = {
        "provider": "twilio",
        "payload": payload,
        "headers": {"X-Twilio-Signature": signature},
        "raw_body": urlencode(form),
        "url": TWILIO_SMS_URL,
        "process_now": True,
    }
    first = ingest_obeys_the_contract(db, api, args)
    again = ingest_obeys_the_contract(db, api, args)
    assert (first["status"], again["status"]) == ("processed", "duplicate")  # verified as Twilio signs it


# --- random deliveries ----------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(["", "\u0000", "\udcff", "é" * 10])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)
HEADER_NAMES = st.sampled_from(
    ["X-Twilio-Signature", "x-twilio-signature", "X-Hub-Signature-256", "webhook-id", "webhook-signature",
     "webhook-timestamp", "Content-Type", "Authorization", "Cookie"]
) | TEXT  # fmt: skip


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_deliveries_obey_the_contract(
    db: psycopg.Connection, api: psycopg.Connection, sign: Sign, ops: Ops, data: st.DataObject
) -> None:
    shape = data.draw(st.sampled_from(["signed_twilio", "signed_meta", "signed_standard", "random"]))
    if shape == "random":
        args: dict[str, Any] = {
            "provider": data.draw(st.sampled_from(["twilio", "meta", "paymob", "standard"]) | TEXT),
            "payload": data.draw(st.dictionaries(TEXT, JSON, max_size=5) | JSON),
        }
    elif shape == "signed_twilio":
        args = sign.twilio(twilio_inbound_sms(data.draw(st.sampled_from([e164(), "+14155550000"])), e164()))
    elif shape == "signed_meta":
        args = sign.meta({"object": "page", "entry": data.draw(st.lists(JSON, max_size=3))})
    else:
        args = sign.standard({"type": data.draw(TEXT), "data": data.draw(JSON)})
    if data.draw(st.booleans()):
        args["headers"] = {**args.get("headers", {}), **data.draw(st.dictionaries(HEADER_NAMES, TEXT, max_size=4))}
    if data.draw(st.booleans()):
        args["raw_body"] = data.draw(st.none() | TEXT)
    if data.draw(st.booleans()):
        args["url"] = data.draw(st.none() | TEXT)
    first = ingest_obeys_the_contract(db, api, args)
    if isinstance(first, dict) and data.draw(st.booleans()):
        again = ingest_obeys_the_contract(db, api, args)  # a redelivery is never a second processing
        assert isinstance(again, dict)
