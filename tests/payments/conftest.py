"""Payments test helpers: the Paymob secret in Vault, signed callbacks, payment requests."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, User, Workspace

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


@dataclass
class Billing:
    """Payments-domain shortcuts over the fixtures."""

    db: psycopg.Connection
    rpc: Any
    factories: Factories
    secret: str

    def request(self, ws: Workspace, plan_key: str = "pro", provider: str = "paymob", as_: User | None = None) -> dict:
        caller = as_ or ws.owner
        return self.rpc(
            "create_payment_request",
            {"workspace_id": str(ws.id), "plan_key": plan_key, "provider": provider},
            as_=caller.jwt,
        )

    def callback(self, payment: dict, **overrides: Any) -> tuple[dict, str]:
        """A correctly signed success callback for a payment request (overrides change it before signing)."""
        amount = overrides.pop("amount_cents", payment["amount"])
        currency = overrides.pop("currency", payment["currency"])
        payload = paymob_payload(payment["reference"], amount, currency, **overrides)
        return payload, paymob_sign(payload, self.secret)

    def plan_of(self, ws: Workspace) -> str:
        row = self.db.execute("select plan_key from public.workspaces where id = %s", (ws.id,)).fetchone()
        assert row is not None
        return row[0]

    def payment(self, payment_id: Any) -> dict[str, Any]:
        row = self.db.execute(
            "select to_jsonb(p) from public.payments as p where p.id = %s", (str(payment_id),)
        ).fetchone()
        assert row is not None
        return row[0]

    def subscriptions(self, ws: Workspace) -> list[dict[str, Any]]:
        return [
            r[0]
            for r in self.db.execute(
                "select to_jsonb(s) from public.subscriptions as s where s.workspace_id = %s order by created_at",
                (ws.id,),
            ).fetchall()
        ]

    def audits(self, action: str, ws: Workspace) -> list[dict[str, Any]]:
        return [
            r[0]
            for r in self.db.execute(
                "select to_jsonb(a) from public.audit_logs as a where a.action = %s and a.workspace_id = %s order by id",
                (action, ws.id),
            ).fetchall()
        ]

    def alerts(self, type_: str = "payment_failure") -> list[dict[str, Any]]:
        return [
            r[0]
            for r in self.db.execute(
                "select to_jsonb(a) from public.alerts as a where a.type = %s order by id", (type_,)
            ).fetchall()
        ]

    def limits(self, ws: Workspace) -> dict[str, tuple[float, float, str]]:
        rows = self.db.execute(
            "select metric, soft_limit, hard_limit, plan_key from public.usage_limits"
            " where workspace_id = %s and period_start = private.usage_period()",
            (ws.id,),
        ).fetchall()
        return {metric: (float(soft), float(hard), plan) for metric, soft, hard, plan in rows}

    def plan_limits(self, plan_key: str) -> dict[str, tuple[float, float, str]]:
        rows = self.db.execute(
            "select metric, soft_limit, hard_limit from public.plan_limits where plan_key = %s", (plan_key,)
        ).fetchall()
        return {metric: (float(soft), float(hard), plan_key) for metric, soft, hard in rows}


@pytest.fixture
def paymob_secret(db: psycopg.Connection) -> str:
    secret = secrets.token_hex(16)
    db.execute("select vault.create_secret(%s, 'paymob_hmac_secret', 'Paymob HMAC secret (tests)')", (secret,))
    return secret


@pytest.fixture
def billing(db: psycopg.Connection, rpc: Any, factories: Factories, paymob_secret: str) -> Billing:
    return Billing(db, rpc, factories, paymob_secret)
