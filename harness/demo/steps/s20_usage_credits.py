"""Usage and credits: a free workspace metered across its soft and hard limits (one
alert each, then a refusal), credits deducted to zero (one alert, then a refusal),
idempotent retries, and a plan-limited rate limit answering 429 with Retry-After."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from harness.rpc import RpcError, call

if TYPE_CHECKING:
    from harness.demo import DemoContext

TITLE = "Usage, limits and credits: thresholds with one alert each, a wallet run to zero, 429s"


def _alerts(ctx: DemoContext, workspace_id: object, type_: str) -> int:
    row = ctx.conn.execute(
        "select count(*) from public.alerts where workspace_id = %s and type = %s", (workspace_id, type_)
    ).fetchone()
    return int(row[0]) if row else 0


def _try(ctx: DemoContext, name: str, args: dict[str, object]) -> tuple[object, RpcError | None]:
    with psycopg.connect(ctx.url, autocommit=True) as conn:
        try:
            return call(conn, name, args).data, None
        except RpcError as err:
            return None, err


def run(ctx: DemoContext) -> None:
    ws = ctx.factories.workspace(name="Delta Dental (free plan)")
    wid = str(ws.id)
    ctx.say(f"workspace {ws.name}: free plan, sms soft limit 40 and hard limit 50 per month")

    for quantity in (30, 12, 10):
        result = ctx.rpc("record_usage", {"workspace_id": wid, "metric": "sms", "quantity": quantity, "source": "demo"})
        ctx.say(
            f"record_usage sms +{quantity}: used {result['used']} of {result['soft_limit']}/{result['hard_limit']}"
            f" -> {result['limit_state']}"
        )
    _, refused = _try(ctx, "record_usage", {"workspace_id": wid, "metric": "sms", "quantity": 1})
    if refused is not None:
        ctx.say(f"record_usage sms +1 once blocked: HTTP {refused.status} {refused.sqlstate} {refused.message}")
    ctx.say(
        f"alerts: usage_warning x{_alerts(ctx, ws.id, 'usage_warning')},"
        f" usage_blocked x{_alerts(ctx, ws.id, 'usage_blocked')} (one per threshold per period)"
    )
    retry = ctx.rpc("record_usage", {"workspace_id": wid, "metric": "messages", "quantity": 3, "idempotency_key": "m-1"})
    again = ctx.rpc("record_usage", {"workspace_id": wid, "metric": "messages", "quantity": 3, "idempotency_key": "m-1"})
    ctx.say(f"the same usage sent twice with key m-1: used {again['used']} (duplicate={again['duplicate']}),"
            f" counted once ({retry['used']})")
    report = ctx.rpc("evaluate_usage_thresholds", {"workspace_id": wid}, as_=ws.owner.jwt)
    states = ", ".join(f"{m['metric']} {m['used']}/{m['hard_limit']} {m['limit_state']}" for m in report["metrics"])
    ctx.say(f"evaluate_usage_thresholds as the owner: {states}")

    granted = ctx.rpc("grant_credits", {"workspace_id": wid, "amount": 25, "reason": "demo top-up", "idempotency_key": "t-1"})
    ctx.say(f"grant_credits 25: balance {granted['balance']} (transaction {granted['transaction_id']})")
    for amount, key in ((10, "call-1"), (10, "call-1"), (15, "call-2")):
        d = ctx.rpc("deduct_credits", {"workspace_id": wid, "amount": amount, "reason": f"demo {key}", "idempotency_key": key})
        ctx.say(
            f"deduct_credits {amount} (key {key}): balance {d['balance']}, transaction {d['transaction_id']},"
            f" duplicate={d['duplicate']}"
        )
    _, short = _try(ctx, "deduct_credits", {"workspace_id": wid, "amount": 1, "reason": "demo call-3"})
    if short is not None:
        ctx.say(f"deduct_credits 1 at zero: HTTP {short.status} {short.sqlstate} {short.message} ({short.detail})")
    ledger = ctx.conn.execute(
        "select sum(amount), count(*) from public.wallet_ledger where workspace_id = %s", (ws.id,)
    ).fetchone()
    assert ledger is not None
    ctx.say(f"ledger: {ledger[1]} entries summing to {ledger[0]} = the balance; credits_exhausted alerts:"
            f" {_alerts(ctx, ws.id, 'credits_exhausted')}")

    answers = [ctx.rpc("check_rate_limit", {"workspace_id": wid, "bucket": "messages"}) for _ in range(30)]
    ctx.say(f"check_rate_limit x30 on the free plan's messages bucket: last remaining {answers[-1]['remaining']}"
            f" of {answers[-1]['limit']} per minute")
    _, limited = _try(ctx, "enforce_rate_limit", {"workspace_id": wid, "bucket": "messages"})
    if limited is not None:
        ctx.say(f"enforce_rate_limit, request 31: HTTP {limited.status} {limited.message},"
                f" Retry-After: {limited.headers.get('Retry-After')} s")
