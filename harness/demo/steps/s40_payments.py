"""Payments: a plan is upgraded only by a genuine confirmation.

The step plays Paymob's side itself: it signs callbacks with the Vault secret
the way Paymob's documentation describes (the listed obj fields concatenated in
order, HMAC-SHA512, hex), then shows a forged one refused and a valid one
activating the plan with its raised limits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from harness.rpc import RpcError, call

if TYPE_CHECKING:
    from harness.demo import DemoContext

TITLE = "Payments: Paymob and InstaPay upgrade a plan only on a real confirmation"

_HMAC_FIELDS = (
    "amount_cents created_at currency error_occured has_parent_transaction id integration_id is_3d_secure "
    "is_auth is_capture is_refunded is_standalone_payment is_voided order.id owner pending "
    "source_data.pan source_data.sub_type source_data.type success"
).split()


def _field(obj: dict[str, Any], dotted: str) -> str:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _sign(payload: dict[str, Any], secret: str) -> str:
    message = "".join(_field(payload["obj"], f) for f in _HMAC_FIELDS)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha512).hexdigest()


def _callback(reference: str, amount_cents: int, currency: str, txn_id: int) -> dict[str, Any]:
    return {
        "type": "TRANSACTION",
        "obj": {
            "id": txn_id,
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
            "has_parent_transaction": False,
            "order": {"id": txn_id + 1, "merchant_order_id": reference},
            "created_at": "2026-11-22T02:00:00.000000",
            "currency": currency,
            "source_data": {"pan": "2346", "type": "card", "sub_type": "MasterCard"},
            "error_occured": False,
            "owner": 302852,
        },
    }


def _paymob_secret(ctx: DemoContext) -> str:
    row = ctx.conn.execute(
        "select decrypted_secret from vault.decrypted_secrets where name = 'paymob_hmac_secret'"
        " order by created_at desc limit 1"
    ).fetchone()
    if row is not None:
        return row[0]
    secret = secrets.token_hex(16)
    ctx.conn.execute("select vault.create_secret(%s, 'paymob_hmac_secret', 'Paymob HMAC secret (demo)')", (secret,))
    ctx.say("stored a Paymob HMAC secret in Vault as paymob_hmac_secret")
    return secret


def _limits(ctx: DemoContext, workspace_id: Any) -> str:
    with ctx.conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select metric, plan_key, soft_limit, hard_limit from public.usage_limits"
            " where workspace_id = %s and period_start = private.usage_period() order by metric",
            (workspace_id,),
        ).fetchall()
    return ", ".join(f"{r['metric']} {r['soft_limit']:g}/{r['hard_limit']:g}" for r in rows) or "none yet"


def _plan(ctx: DemoContext, workspace_id: Any) -> str:
    row = ctx.conn.execute("select plan_key from public.workspaces where id = %s", (workspace_id,)).fetchone()
    assert row is not None
    return str(row[0])


def run(ctx: DemoContext) -> None:
    secret = _paymob_secret(ctx)
    owner = ctx.factories.user()
    ws = ctx.factories.workspace(owner=owner, name="Demo payments workspace")
    ctx.rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1, "source": "demo"})
    ctx.say(f"workspace {ws.name!r} is on plan {_plan(ctx, ws.id)!r}; limits (soft/hard): {_limits(ctx, ws.id)}")

    payment = ctx.rpc(
        "create_payment_request",
        {"workspace_id": str(ws.id), "plan_key": "pro", "provider": "paymob"},
        as_=owner.jwt,
    )
    ctx.say(
        f"owner requested plan 'pro' via Paymob: payment {payment['payment_id']} for "
        f"{payment['amount']} {payment['currency']} (minor units), reference {payment['reference']}, "
        f"status {payment['status']}; plan still {_plan(ctx, ws.id)!r}"
    )

    txn_id = 900000000 + secrets.randbelow(10**8)
    payload = _callback(payment["reference"], payment["amount"], payment["currency"], txn_id)
    forged = _sign(payload, "a guessed secret")
    # The whole response, not just its body: a forged callback answers HTTP 401.
    with psycopg.connect(ctx.url, autocommit=True) as conn:
        response = call(conn, "handle_paymob_callback", {"payload": payload, "hmac": forged})
    alert = ctx.conn.execute(
        "select message from public.alerts where type = 'payment_failure' and details->>'merchant_order_id' = %s",
        (payment["reference"],),
    ).fetchone()
    ctx.say(
        f"forged callback (wrong HMAC): HTTP {response.status}, status {response.data['status']!r}; "
        f"plan still {_plan(ctx, ws.id)!r}; alert: {alert[0] if alert else 'none'}"
    )

    result = ctx.rpc("handle_paymob_callback", {"payload": payload, "hmac": _sign(payload, secret)})
    ctx.say(f"valid callback (HMAC-SHA512 with the Vault secret): payment {result['status']}")
    again = ctx.rpc("handle_paymob_callback", {"payload": payload, "hmac": _sign(payload, secret)})
    ctx.say(
        f"same callback delivered again: status {again['status']}, duplicate={again['duplicate']}"
        " (no second activation)"
    )
    ctx.say(f"workspace is now on plan {_plan(ctx, ws.id)!r}; raised limits (soft/hard): {_limits(ctx, ws.id)}")

    instapay = ctx.rpc(
        "create_payment_request",
        {"workspace_id": str(ws.id), "plan_key": "business", "provider": "instapay"},
        as_=owner.jwt,
    )
    # Unique per run: one bank transfer settles one request, and the demo may run again.
    bank_reference = f"IPN-DEMO-{secrets.token_hex(3).upper()}"
    try:
        ctx.rpc(
            "confirm_instapay_payment",
            {"payment_id": instapay["payment_id"], "bank_reference": bank_reference},
            as_=owner.jwt,
        )
    except RpcError as err:
        ctx.say(f"InstaPay {instapay['reference']}: the owner cannot confirm it ({err.sqlstate} {err.message})")
    admin = ctx.factories.platform_admin()
    confirmed = ctx.rpc(
        "confirm_instapay_payment",
        {"payment_id": instapay["payment_id"], "bank_reference": bank_reference},
        as_=admin.jwt,
    )
    ctx.say(
        f"a platform admin matched bank transfer {bank_reference}: payment {confirmed['status']}, "
        f"plan {_plan(ctx, ws.id)!r}; limits (soft/hard): {_limits(ctx, ws.id)}"
    )
    rows = ctx.conn.execute(
        "select kind, count(*) from public.billing_mismatches where workspace_id = %s group by kind", (ws.id,)
    ).fetchall()
    ctx.say(f"billing_mismatches for this workspace: {dict(rows) or 'none'}")
