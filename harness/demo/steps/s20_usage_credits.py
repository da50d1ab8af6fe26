"""Usage and credits: a free workspace metered across its soft and hard limits (one
alert each; usage that happened is recorded past the hard limit, new work is
refused before it starts), an upgrade that resolves the usage alerts, a batch of
usage, credits run short (one alert on the first refusal, resolved by a grant),
idempotent retries, and a plan-limited rate limit answering 429 with Retry-After."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import psycopg

from harness.rpc import RpcError, call

if TYPE_CHECKING:
    from harness.demo import DemoContext

TITLE = "Usage, limits and credits: thresholds with one alert each, resolved by an upgrade; credits; 429s"


def _alerts(ctx: DemoContext, workspace_id: object, type_: str) -> int:
    row = ctx.conn.execute(
        "select count(*) from public.alerts where workspace_id = %s and type = %s", (workspace_id, type_)
    ).fetchone()
    return int(row[0]) if row else 0


def _try(ctx: DemoContext, name: str, args: dict[str, object]) -> tuple[object, RpcError | None]:
    """One request as a PostgREST client sees it: a 4xx answer is an error, raised or answered."""
    with psycopg.connect(ctx.url, autocommit=True) as conn:
        try:
            response = call(conn, name, args)
        except RpcError as err:
            return None, err
    if response.status >= 400:
        body = response.data
        return None, RpcError(body["code"], body["message"], status=response.status, detail=body.get("details"))
    return response.data, None


def _usage_alerts(ctx: DemoContext, workspace_id: object) -> list[tuple[str, str]]:
    rows = ctx.conn.execute(
        "select type, coalesce(resolution, 'open') from public.alerts"
        " where workspace_id = %s and type in ('usage_warning', 'usage_blocked') order by id",
        (workspace_id,),
    ).fetchall()
    return [(str(t), str(r)) for t, r in rows]


def _usage(ctx: DemoContext, ws: object, wid: str) -> None:
    for quantity in (30, 12, 10, 3):
        result = ctx.rpc("record_usage", {"workspace_id": wid, "metric": "sms", "quantity": quantity, "source": "demo"})
        ctx.say(
            f"record_usage sms +{quantity}: used {result['used']} of {result['soft_limit']}/{result['hard_limit']}"
            f" -> {result['limit_state']}"
        )
    ctx.say("  (usage that happened is recorded and billed past the hard limit)")
    _, refused = _try(ctx, "authorize_usage", {"workspace_id": wid, "metric": "sms"})
    if refused is not None:
        ctx.say(f"authorize_usage sms before sending another: HTTP {refused.status} {refused.sqlstate} {refused.message}")
    ctx.say(
        f"alerts: usage_warning x{_alerts(ctx, ws, 'usage_warning')},"
        f" usage_blocked x{_alerts(ctx, ws, 'usage_blocked')} (one per threshold per period)"
    )


def _upgrade(ctx: DemoContext, ws: Any, wid: str) -> None:
    payment = ctx.rpc(
        "create_payment_request", {"workspace_id": wid, "plan_key": "pro", "provider": "instapay"}, as_=ws.owner.jwt
    )
    ctx.rpc(
        "confirm_instapay_payment",
        {"payment_id": payment["payment_id"], "bank_reference": f"IPN-USAGE-{secrets.token_hex(3).upper()}"},
        as_=ctx.factories.platform_admin().jwt,
    )
    allowed = ctx.rpc("authorize_usage", {"workspace_id": wid, "metric": "sms"})
    ctx.say(
        f"upgraded to pro (InstaPay confirmed by an admin): authorize_usage sms -> allowed={allowed['allowed']},"
        f" {allowed['used']} of {allowed['hard_limit']}"
    )
    for type_, resolution in _usage_alerts(ctx, ws.id):
        ctx.say(f"  {type_}: {resolution}")


def _credits(ctx: DemoContext, ws: Any, wid: str) -> None:
    granted = ctx.rpc("grant_credits", {"workspace_id": wid, "amount": 25, "reason": "demo top-up", "idempotency_key": "t-1"})
    ctx.say(f"grant_credits 25: balance {granted['balance']} (transaction {granted['transaction_id']})")
    for amount, key in ((10, "call-1"), (10, "call-1"), (14.7, "call-2")):
        d = ctx.rpc("deduct_credits", {"workspace_id": wid, "amount": amount, "reason": f"demo {key}", "idempotency_key": key})
        ctx.say(
            f"deduct_credits {amount} (key {key}): balance {d['balance']}, transaction {d['transaction_id']},"
            f" duplicate={d['duplicate']}"
        )
    for _ in range(2):
        _, short = _try(ctx, "deduct_credits", {"workspace_id": wid, "amount": 1, "reason": "demo call-3"})
        if short is not None:
            ctx.say(f"deduct_credits 1 with 0.3 left: HTTP {short.status} {short.sqlstate} {short.message} ({short.detail})")
    ledger = ctx.conn.execute(
        "select sum(amount), count(*) from public.wallet_ledger where workspace_id = %s", (ws.id,)
    ).fetchone()
    assert ledger is not None
    ctx.say(f"ledger: {ledger[1]} entries summing to {ledger[0]} = the balance; open credits_exhausted alerts:"
            f" {_open(ctx, ws.id, 'credits_exhausted')} (raised on the first refusal, once)")
    ctx.rpc("grant_credits", {"workspace_id": wid, "amount": 10, "reason": "demo top-up 2", "idempotency_key": "t-2"})
    row = ctx.conn.execute(
        "select resolution from public.alerts where workspace_id = %s and type = 'credits_exhausted'", (ws.id,)
    ).fetchone()
    ctx.say(f"grant_credits 10: the alert is resolved ({row[0] if row else 'no alert'})")


def _open(ctx: DemoContext, workspace_id: object, type_: str) -> int:
    row = ctx.conn.execute(
        "select count(*) from public.alerts where workspace_id = %s and type = %s and resolved_at is null",
        (workspace_id, type_),
    ).fetchone()
    return int(row[0]) if row else 0


def run(ctx: DemoContext) -> None:
    ws = ctx.factories.workspace(name="Delta Dental (free plan)")
    wid = str(ws.id)
    ctx.say(f"workspace {ws.name}: free plan, sms soft limit 40 and hard limit 50 per month")

    _usage(ctx, ws.id, wid)
    _upgrade(ctx, ws, wid)
    retry = ctx.rpc("record_usage", {"workspace_id": wid, "metric": "messages", "quantity": 3, "idempotency_key": "m-1"})
    again = ctx.rpc("record_usage", {"workspace_id": wid, "metric": "messages", "quantity": 3, "idempotency_key": "m-1"})
    ctx.say(f"the same usage sent twice with key m-1: used {again['used']} (duplicate={again['duplicate']}),"
            f" counted once ({retry['used']})")
    batch = ctx.rpc("record_usage_batch", {"events": [
        {"workspace_id": wid, "metric": "llm_tokens", "quantity": 1834, "idempotency_key": "run-1:step-1"},
        {"workspace_id": wid, "metric": "llm_tokens", "quantity": 912, "idempotency_key": "run-1:step-2"},
        {"workspace_id": wid, "metric": "messages", "quantity": 3, "idempotency_key": "m-1"},
    ]})
    ctx.say(f"record_usage_batch of 3 events: recorded {batch['recorded']}, duplicates {batch['duplicates']}"
            f" (m-1 again); llm_tokens used {batch['results'][1]['used']}")
    report = ctx.rpc("evaluate_usage_thresholds", {"workspace_id": wid}, as_=ws.owner.jwt)
    states = ", ".join(f"{m['metric']} {m['used']}/{m['hard_limit']} {m['limit_state']}" for m in report["metrics"])
    ctx.say(f"evaluate_usage_thresholds as the owner: {states}")

    _credits(ctx, ws, wid)

    free = str(ctx.factories.workspace(name="Echo Vets (free plan)").id)
    answers = [ctx.rpc("check_rate_limit", {"workspace_id": free, "bucket": "messages"}) for _ in range(30)]
    ctx.say(f"check_rate_limit x30 on a free plan's messages bucket: last remaining {answers[-1]['remaining']}"
            f" of {answers[-1]['limit']} per minute")
    _, limited = _try(ctx, "enforce_rate_limit", {"workspace_id": free, "bucket": "messages"})
    if limited is not None:
        ctx.say(f"enforce_rate_limit, request 31: HTTP {limited.status} {limited.message},"
                f" Retry-After: {limited.headers.get('Retry-After')} s")
