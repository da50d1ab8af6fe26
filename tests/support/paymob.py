"""Paymob test helpers: callback bodies shaped like Paymob's samples, and their HMAC built
independently of the SQL implementation (db/functions/payments/verify_paymob_hmac.sql)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from typing import Any

PAYMOB_URL = "https://api.example.test/webhooks/paymob"

# Paymob's documented HMAC field order for transaction callbacks (see
# db/functions/payments/verify_paymob_hmac.sql for the source).
PAYMOB_HMAC_FIELDS = (
    "amount_cents",
    "created_at",
    "currency",
    "error_occured",
    "has_parent_transaction",
    "id",
    "integration_id",
    "is_3d_secure",
    "is_auth",
    "is_capture",
    "is_refunded",
    "is_standalone_payment",
    "is_voided",
    "order.id",
    "owner",
    "pending",
    "source_data.pan",
    "source_data.sub_type",
    "source_data.type",
    "success",
)

_txn_ids = itertools.count(192036465)


def _value(obj: dict[str, Any], dotted: str) -> str:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def paymob_hmac_message(obj: dict[str, Any]) -> str:
    """The string Paymob signs, built independently of the SQL implementation."""
    return "".join(_value(obj, field) for field in PAYMOB_HMAC_FIELDS)


def paymob_sign(payload: dict[str, Any], secret: str) -> str:
    return hmac.new(secret.encode(), paymob_hmac_message(payload["obj"]).encode(), hashlib.sha512).hexdigest()


def paymob_payload(
    reference: str,
    amount_cents: int,
    currency: str = "EGP",
    *,
    success: bool = True,
    pending: bool = False,
    is_refunded: bool = False,
    is_voided: bool = False,
    txn_id: int | None = None,
    order_id: int | None = None,
) -> dict[str, Any]:
    """A "transaction processed" callback body shaped like Paymob's documented sample.

    Paymob registers one order per merchant_order_id, so by default the order id is
    derived from the reference: every attempt for one payment shares its order.
    """
    if order_id is None:
        order_id = 200000000 + int(hashlib.sha256(reference.encode()).hexdigest()[:7], 16)
    return {
        "type": "TRANSACTION",
        "obj": {
            "id": txn_id if txn_id is not None else next(_txn_ids),
            "pending": pending,
            "amount_cents": amount_cents,
            "success": success,
            "is_auth": False,
            "is_capture": False,
            "is_standalone_payment": True,
            "is_voided": is_voided,
            "is_refunded": is_refunded,
            "is_3d_secure": True,
            "integration_id": 4097558,
            "profile_id": 164295,
            "has_parent_transaction": False,
            "order": {
                "id": order_id,
                "created_at": "2024-06-13T11:32:09.628623",
                "merchant_order_id": reference,
                "amount_cents": amount_cents,
                "currency": currency,
            },
            "created_at": "2024-06-13T11:33:44.592345",
            "currency": currency,
            "source_data": {"pan": "2346", "type": "card", "sub_type": "MasterCard"},
            "error_occured": False,
            "owner": 302852,
            "data": {"message": "Approved" if success else "Do not honour"},
        },
    }


_transaction_seq = itertools.count(1)


def paymob_transaction(reference: str, amount_cents: int, currency: str = "EGP", txn_id: int | None = None) -> dict:
    """A successful "transaction processed" callback body, shaped like Paymob's sample."""
    return {
        "type": "TRANSACTION",
        "obj": {
            "id": txn_id or 192036000 + next(_transaction_seq),
            "pending": False,
            "amount_cents": amount_cents,
            "success": True,
            "is_auth": False,
            "is_capture": False,
            "is_standalone_payment": True,
            "is_voided": False,
            "is_refunded": False,
            "is_3d_secure": True,
            "integration_id": 4097558,
            "profile_id": 164295,
            "has_parent_transaction": False,
            "order": {"id": 217503754, "merchant_order_id": reference, "amount_cents": amount_cents, "currency": currency},
            "created_at": "2026-11-22T01:15:42.592345",
            "currency": currency,
            "source_data": {"pan": "2346", "type": "card", "sub_type": "MasterCard"},
            "error_occured": False,
            "owner": 302852,
            "data": {"message": "Approved"},
        },
    }
