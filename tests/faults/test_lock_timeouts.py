"""A transaction stuck holding a wallet, a usage period row, a payment row or a
limiter row never makes an API call hang.

The API roles carry lock_timeout = 2s as a role setting (where Supabase sets their
statement_timeout), which PostgREST applies to every request. A blocked call fails
with HTTP 503 {code 55P03, message lock_timeout} and Retry-After, and changes
nothing; its retry, once the lock is gone, works once. A webhook whose processing
is blocked keeps its raw row, failed, and the sweeper processes it later; the rate
limiter fails open. The callers run under a 30 s statement_timeout as a guard: were
lock_timeout not applied, they would end with 57014, not 55P03, and never hang.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg

from harness.factories import Factories
from harness.rows import one, scalar
from harness.rpc import Jwt, RpcError, call
from harness.testing import Connect, Rpc
from tests.support.paymob import paymob_payload, paymob_sign
from tests.support.webhooks import Ops, Sign, e164, twilio_inbound_sms

GUARD = "-c statement_timeout=30s"
# One API request: the function, its arguments, and who calls it.
Call = tuple[str, dict[str, Any], Jwt | str]


def test_api_roles_carry_lock_timeout_where_supabase_sets_statement_timeout(db: psycopg.Connection, rpc: Rpc) -> None:
    configs: dict[str, list[str] | None] = dict(
        db.execute(
            "select rolname, rolconfig from pg_roles where rolname in ('anon', 'authenticated', 'service_role')"
        ).fetchall()
    )
    assert all("lock_timeout=2s" in (configs[role] or []) for role in ("anon", "authenticated", "service_role"))
    db.execute(
        """
        create function public.test_timeouts() returns jsonb language sql set search_path = '' as $$
            select jsonb_build_object('lock_timeout', current_setting('lock_timeout'),
                                      'statement_timeout', current_setting('statement_timeout'))
        $$;
        grant execute on function public.test_timeouts() to anon, authenticated, service_role;
        """
    )
    # PostgREST applies each impersonated role's settings to its requests.
    assert rpc("test_timeouts", as_="anon") == {"lock_timeout": "2s", "statement_timeout": "3s"}
    assert rpc("test_timeouts", as_="service_role")["lock_timeout"] == "2s"


def _in_parallel(connect: Callable[..., psycopg.Connection], calls: list[Call]) -> list[Any]:
    """Each (function, args, caller) on its own guarded connection, all at once; answers or RpcErrors."""
    conns = [connect(options=GUARD) for _ in calls]
    results: list[Any] = [None] * len(calls)

    def worker(i: int) -> None:
        name, args, as_ = calls[i]
        try:
            results[i] = call(conns[i], name, args, as_=as_).data
        except RpcError as err:
            results[i] = err

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_calls_blocked_by_a_stuck_transaction_fail_fast_with_503_and_change_nothing(
    db: psycopg.Connection, rpc: Rpc, factories: Factories, connect: Connect
) -> None:
    secret = "a" * 32
    db.execute("select vault.create_secret(%s, 'paymob_hmac_secret')", (secret,))
    ws, admin = factories.workspace(), factories.platform_admin()
    ws_id = str(ws.id)
    rpc("grant_credits", {"workspace_id": ws_id, "amount": 100, "reason": "funding", "idempotency_key": "fund"})
    rpc("record_usage", {"workspace_id": ws_id, "metric": "sms", "quantity": 1, "idempotency_key": "u0"})
    paymob = rpc("create_payment_request", {"workspace_id": ws_id, "plan_key": "pro", "provider": "paymob"}, as_=ws.owner.jwt)
    instapay = rpc(
        "create_payment_request", {"workspace_id": ws_id, "plan_key": "business", "provider": "instapay"}, as_=ws.owner.jwt
    )
    payload = paymob_payload(paymob["reference"], paymob["amount"], paymob["currency"])
    calls: list[Call] = [
        ("deduct_credits", {"workspace_id": ws_id, "amount": 5, "reason": "call", "idempotency_key": "d1"}, "service_role"),
        ("grant_credits", {"workspace_id": ws_id, "amount": 7, "reason": "top-up", "idempotency_key": "g1"}, "service_role"),
        ("record_usage", {"workspace_id": ws_id, "metric": "sms", "quantity": 2, "idempotency_key": "u1"}, "service_role"),
        ("handle_paymob_callback", {"payload": payload, "hmac": paymob_sign(payload, secret)}, "service_role"),
        ("confirm_instapay_payment", {"payment_id": instapay["payment_id"], "bank_reference": "FT-1"}, admin.jwt),
    ]

    holder = connect(autocommit=False)  # stuck: holds the rows and never finishes on its own
    holder.execute("select from public.workspace_wallets where workspace_id = %s for update", (ws.id,))
    holder.execute("select from public.usage_limits where workspace_id = %s and metric = 'sms' for update", (ws.id,))
    holder.execute(
        "select from public.payments where id in (%s, %s) for update", (paymob["payment_id"], instapay["payment_id"])
    )
    try:
        blocked = _in_parallel(connect, calls)
    finally:
        holder.rollback()

    for (name, _, _), err in zip(calls, blocked):
        assert isinstance(err, RpcError), (name, err)
        assert (err.sqlstate, err.status, err.message, err.headers) == ("55P03", 503, "lock_timeout", {"Retry-After": "1"})
        assert name in (err.detail or "") and "nothing was changed" in (err.detail or "")
    # Nothing changed.
    balance, ledger = one(
        db,
        "select w.balance, (select count(*) from public.wallet_ledger where workspace_id = w.workspace_id)"
        " from public.workspace_wallets as w where w.workspace_id = %s",
        (ws.id,),
    )
    assert (balance, ledger) == (100, 1)
    assert db.execute("select used from public.usage_limits where workspace_id = %s and metric = 'sms'", (ws.id,)).fetchone() == (1,)
    assert db.execute("select count(*) from public.usage_events where workspace_id = %s", (ws.id,)).fetchone() == (1,)
    statuses = db.execute("select status from public.payments where workspace_id = %s order by created_at", (ws.id,)).fetchall()
    assert statuses == [("pending",), ("pending",)]
    assert db.execute("select plan_key from public.workspaces where id = %s", (ws.id,)).fetchone() == ("free",)

    # The same requests, retried once the lock is gone, work once.
    retried = _in_parallel(connect, calls[:3])
    assert [r["duplicate"] for r in retried] == [False, False, False]
    assert retried[2]["used"] == 3
    assert rpc(*calls[3][:2])["status"] == "confirmed"
    assert db.execute("select plan_key from public.workspaces where id = %s", (ws.id,)).fetchone() == ("pro",)
    balance, ledger = one(
        db,
        "select w.balance, (select count(*) from public.wallet_ledger where workspace_id = w.workspace_id)"
        " from public.workspace_wallets as w where w.workspace_id = %s",
        (ws.id,),
    )
    assert (balance, ledger) == (102, 3)


def test_a_webhook_whose_processing_is_blocked_keeps_its_raw_row_and_the_sweeper_finishes_it(
    rpc: Rpc, sign: Sign, ops: Ops, connect: Connect
) -> None:
    agent = ops.agent()
    rpc("record_usage", {"workspace_id": str(agent.workspace_id), "metric": "sms", "quantity": 1})
    delivery = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    holder = connect(autocommit=False)
    holder.execute(
        "select from public.usage_limits where workspace_id = %s and metric = 'sms' for update", (agent.workspace_id,)
    )
    try:
        result = call(connect(options=GUARD), "ingest_webhook", {**delivery, "process_now": True}).data
    finally:
        holder.rollback()

    assert result["status"] == "failed" and result["error"].startswith("55P03: ")
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["payload"]) == ("failed", 1, delivery["payload"])
    assert ops.count("sms_events") == 0 and ops.usage(agent.workspace_id, "sms") == 1

    ops.make_due()
    assert rpc("retry_failed_webhooks", {})["succeeded"] == 1
    assert ops.webhook(result["webhook_id"])["status"] == "processed"
    assert ops.count("sms_events") == 1 and ops.usage(agent.workspace_id, "sms") == 2
    # A redelivery of the same message is a duplicate, not a second processing.
    assert rpc("ingest_webhook", delivery)["status"] == "duplicate"
    assert ops.count("sms_events") == 1


def test_a_blocked_rate_limiter_fails_open_and_says_why(
    db: psycopg.Connection, rpc: Rpc, factories: Factories, connect: Connect
) -> None:
    ws = factories.workspace()
    rpc("check_rate_limit", {"workspace_id": str(ws.id)})
    holder = connect(autocommit=False)
    holder.execute("select from private.rate_limit_counters where workspace_id = %s for update", (ws.id,))
    try:
        answer = call(connect(options=GUARD), "check_rate_limit", {"workspace_id": str(ws.id)}).data
    finally:
        holder.rollback()

    assert (answer["allowed"], answer["fail_open"]) == (True, True)
    assert "lock timeout" in answer["error"]
    alert = db.execute("select details ->> 'sqlstate' from public.alerts where type = 'rate_limiter_failed'").fetchall()
    assert alert == [("55P03",)]


def test_the_sweeper_run_like_pg_cron_skips_a_row_stuck_behind_a_lock(
    db: psycopg.Connection, rpc: Rpc, sign: Sign, ops: Ops, connect: Connect
) -> None:
    stuck, free = ops.agent(), ops.agent()
    ops.fail_inserts_into("sms_events")
    ids = [
        rpc("ingest_webhook", {**sign.twilio(twilio_inbound_sms(a.phone_number, e164())), "process_now": True})[
            "webhook_id"
        ]
        for a in (stuck, free)
    ]
    ops.heal("sms_events")
    rpc("record_usage", {"workspace_id": str(stuck.workspace_id), "metric": "sms", "quantity": 1})
    ops.make_due()
    holder = connect(autocommit=False)
    holder.execute("select from public.usage_limits where workspace_id = %s for update", (stuck.workspace_id,))
    try:
        # pg_cron's session: the job owner, no JWT, no lock_timeout of its own.
        summary = scalar(connect(options=GUARD), "select public.retry_failed_webhooks(10)")
    finally:
        holder.rollback()

    assert (summary["retried"], summary["succeeded"], summary["failed"]) == (2, 1, 1)
    assert ops.webhook(ids[0])["status"] == "failed" and ops.webhook(ids[0])["last_error"].startswith("55P03: ")
    assert ops.webhook(ids[1])["status"] == "processed"
    ops.make_due()
    assert scalar(db, "select public.retry_failed_webhooks(10)")["succeeded"] == 1
    assert ops.count("sms_events") == 2
