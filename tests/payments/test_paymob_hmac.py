"""private.verify_paymob_hmac follows Paymob's documented transaction-callback HMAC."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.paymob import paymob_hmac_message, paymob_payload, paymob_sign

# Paymob's worked example (developers.paymob.com, "HMAC Transaction Callback"):
# its sample transaction processed callback concatenates to exactly this.
DOCUMENTED_STRING = (
    "1000002024-06-13T11:33:44.592345EGPfalsefalse1920364654097558truefalsefalsefalsetruefalse"
    "217503754302852false2346MasterCardcardtrue"
)


def _verify(db: psycopg.Connection, payload: Any, signature: str | None) -> bool:
    row = db.execute("select private.verify_paymob_hmac(%s, %s)", (Jsonb(payload), signature)).fetchone()
    assert row is not None
    return row[0]


def test_concatenation_matches_paymobs_documented_example(db: psycopg.Connection) -> None:
    payload = paymob_payload("OPS-ANY", 100000, txn_id=192036465, order_id=217503754)
    assert paymob_hmac_message(payload["obj"]) == DOCUMENTED_STRING
    row = db.execute("select private.paymob_hmac_message(%s)", (Jsonb(payload["obj"]),)).fetchone()
    assert row is not None and row[0] == DOCUMENTED_STRING


def test_valid_signature_verifies_in_any_hex_case(db: psycopg.Connection, paymob_secret: str) -> None:
    payload = paymob_payload("OPS-ANY", 150000)
    signature = paymob_sign(payload, paymob_secret)
    assert _verify(db, payload, signature)
    assert _verify(db, payload, signature.upper())


@pytest.mark.parametrize(
    "field, value",
    [("amount_cents", 1), ("success", False), ("currency", "USD"), ("pending", True), ("id", 1)],
)
def test_any_signed_field_tampered_fails(db: psycopg.Connection, paymob_secret: str, field: str, value: Any) -> None:
    payload = paymob_payload("OPS-ANY", 150000)
    signature = paymob_sign(payload, paymob_secret)
    payload["obj"][field] = value
    assert not _verify(db, payload, signature)


def test_signature_with_another_secret_fails(db: psycopg.Connection, paymob_secret: str) -> None:
    payload = paymob_payload("OPS-ANY", 150000)
    assert not _verify(db, payload, paymob_sign(payload, paymob_secret + "x"))


@pytest.mark.parametrize("signature", [None, "", "zz" * 64, "ab" * 63, "ab" * 65])
def test_malformed_signature_is_false_not_an_error(
    db: psycopg.Connection, paymob_secret: str, signature: str | None
) -> None:
    assert not _verify(db, paymob_payload("OPS-ANY", 150000), signature)


def test_payload_without_obj_is_false(db: psycopg.Connection, paymob_secret: str) -> None:
    assert not _verify(db, {"type": "TRANSACTION"}, "ab" * 64)


def test_missing_secret_is_a_clear_error(db: psycopg.Connection) -> None:
    payload = paymob_payload("OPS-ANY", 150000)
    with pytest.raises(psycopg.Error) as err:
        _verify(db, payload, "ab" * 64)
    assert err.value.sqlstate == "PT404"
