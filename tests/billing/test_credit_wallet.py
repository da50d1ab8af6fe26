"""deduct_credits / grant_credits: atomic, idempotent, never negative, ledger = balance."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, Workspace
from harness.rows import scalar
from harness.rpc import RpcError
from harness.testing import Rpc
from tests.support.billing import ClientRpc, RunConcurrently, Wallets


def _grant(rpc: Rpc, ws: Workspace, amount: Any, key: str | None = None) -> dict:
    return rpc("grant_credits", {"workspace_id": str(ws.id), "amount": amount, "reason": "top-up", "idempotency_key": key})


def test_32_concurrent_deductions_never_overdraw_and_the_ledger_sums_to_the_balance(
    rpc: Rpc, factories: Factories, wallets: Wallets, run_concurrently: RunConcurrently
) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 3000)
    rng = random.Random(4)
    calls = [
        [
            ("deduct_credits", {"workspace_id": str(ws.id), "amount": str(Decimal(rng.randint(100, 4000)) / 100), "reason": "call"})
            for _ in range(8)
        ]
        for _ in range(32)
    ]

    results = run_concurrently(calls)

    succeeded = Decimal(0)
    refused = 0
    for conn_calls, conn_results in zip(calls, results):
        for (_, args), (kind, value) in zip(conn_calls, conn_results):
            if kind == "ok":
                assert Decimal(str(value["deducted"])) == Decimal(args["amount"])
                assert value["balance"] >= 0
                succeeded += Decimal(args["amount"])
            else:
                assert (value.sqlstate, value.message) == ("PT402", "insufficient_credits"), value
                refused += 1
    assert refused > 0, "the test must drive the wallet to refusals"
    assert wallets.balance(ws.id) == Decimal(3000) - succeeded
    assert wallets.ledger_sum(ws.id) == wallets.balance(ws.id)
    assert wallets.ledger_count(ws.id) == 1 + (32 * 8 - refused)


def test_same_idempotency_key_sent_10_times_concurrently_charges_once(
    rpc: Rpc, factories: Factories, wallets: Wallets, run_concurrently: RunConcurrently
) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 100)
    args = {"workspace_id": str(ws.id), "amount": 7.5, "reason": "call CA1", "idempotency_key": "call:CA1"}

    results = run_concurrently([[("deduct_credits", args)] for _ in range(10)])

    answers = [value for [(kind, value)] in results if kind == "ok"]
    assert len(answers) == 10, results
    assert {a["transaction_id"] for a in answers} == {answers[0]["transaction_id"]}
    assert {(a["balance"], a["deducted"]) for a in answers} == {(92.5, 7.5)}
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 9
    assert wallets.balance(ws.id) == Decimal("92.5")
    assert wallets.ledger_sum(ws.id) == Decimal("92.5")
    assert wallets.ledger_count(ws.id) == 2


def test_retry_with_the_same_key_returns_the_first_result(rpc: Rpc, factories: Factories, wallets: Wallets) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 50)
    args = {"workspace_id": str(ws.id), "amount": 10, "reason": "sms", "idempotency_key": "sms:1"}
    first = rpc("deduct_credits", args)
    rpc("deduct_credits", {"workspace_id": str(ws.id), "amount": 5, "reason": "other"})

    again = rpc("deduct_credits", args)

    assert again == {**first, "duplicate": True, "granted": 0}
    assert again["balance"] == 40  # the first result, not the balance now (35)
    assert wallets.balance(ws.id) == 35


@pytest.mark.parametrize(
    "changed", [{"amount": 11}, {"reason": "different reason"}], ids=["other_amount", "other_reason"]
)
def test_reused_key_with_other_arguments_is_a_conflict(
    rpc: Rpc, factories: Factories, wallets: Wallets, changed: dict[str, Any]
) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 50)
    args = {"workspace_id": str(ws.id), "amount": 10, "reason": "sms", "idempotency_key": "k1"}
    rpc("deduct_credits", args)

    with pytest.raises(RpcError) as caught:
        rpc("deduct_credits", {**args, **changed})

    assert (caught.value.sqlstate, caught.value.status, caught.value.message) == ("PT409", 409, "idempotency_conflict")
    assert wallets.balance(ws.id) == 40
    assert wallets.ledger_count(ws.id) == 2


def test_a_grant_key_cannot_be_replayed_as_a_deduction(rpc: Rpc, factories: Factories, wallets: Wallets) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 50, key="same")
    with pytest.raises(RpcError) as caught:
        rpc("deduct_credits", {"workspace_id": str(ws.id), "amount": 50, "reason": "top-up", "idempotency_key": "same"})
    assert caught.value.sqlstate == "PT409"
    assert wallets.balance(ws.id) == 50


def test_insufficient_credits_is_refused_and_leaves_the_balance_untouched(
    rpc: Rpc, api: ClientRpc, factories: Factories, wallets: Wallets
) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 10)

    with pytest.raises(RpcError) as caught:
        api("deduct_credits", {"workspace_id": str(ws.id), "amount": 10.01, "reason": "call", "idempotency_key": "k"})

    assert (caught.value.sqlstate, caught.value.status, caught.value.message) == ("PT402", 402, "insufficient_credits")
    assert str(ws.id) in (caught.value.detail or "")
    assert wallets.balance(ws.id) == 10
    assert wallets.ledger_count(ws.id) == 1
    # the key was not consumed by the refusal: the same key works once credits exist
    _grant(rpc, ws, 1)
    assert rpc("deduct_credits", {"workspace_id": str(ws.id), "amount": 10.01, "reason": "call", "idempotency_key": "k"})[
        "duplicate"
    ] is False


def test_a_workspace_without_a_wallet_has_no_credits(api: ClientRpc, factories: Factories, wallets: Wallets) -> None:
    ws = factories.workspace()
    with pytest.raises(RpcError) as caught:
        api("deduct_credits", {"workspace_id": str(ws.id), "amount": 1, "reason": "call"})
    assert caught.value.sqlstate == "PT402"
    assert wallets.balance(ws.id) is None


def test_reaching_zero_raises_one_credits_exhausted_alert(
    rpc: Rpc, api: ClientRpc, factories: Factories, wallets: Wallets
) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 10)
    rpc("deduct_credits", {"workspace_id": str(ws.id), "amount": 4, "reason": "call"})
    assert wallets.alerts(ws.id, "credits_exhausted") == 0

    assert rpc("deduct_credits", {"workspace_id": str(ws.id), "amount": 6, "reason": "call"})["balance"] == 0
    for _ in range(3):
        with pytest.raises(RpcError):
            api("deduct_credits", {"workspace_id": str(ws.id), "amount": 1, "reason": "call"})

    assert wallets.alerts(ws.id, "credits_exhausted") == 1


BAD_AMOUNTS = [0, -5, "NaN", "Infinity", "-Infinity", "1e13", "0.00001", None]


@pytest.mark.parametrize("fn", ["deduct_credits", "grant_credits"])
@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=[str(a) for a in BAD_AMOUNTS])
def test_bad_amounts_fail_with_22023_and_write_nothing(
    rpc: Rpc, factories: Factories, wallets: Wallets, db: psycopg.Connection, fn: str, amount: Any
) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 100)
    audit_before = scalar(db, "select count(*) from public.audit_logs")

    with pytest.raises(RpcError) as caught:
        rpc(fn, {"workspace_id": str(ws.id), "amount": amount, "reason": "x", "idempotency_key": "bad"})

    assert (caught.value.sqlstate, caught.value.status, caught.value.message) == ("22023", 400, "invalid_amount")
    assert wallets.balance(ws.id) == 100
    assert wallets.ledger_count(ws.id) == 1
    assert scalar(db, "select count(*) from public.audit_logs") == audit_before


@pytest.mark.parametrize("fn", ["deduct_credits", "grant_credits"])
def test_unknown_workspace_is_not_found_and_writes_nothing(rpc: Rpc, wallets: Wallets, fn: str) -> None:
    with pytest.raises(RpcError) as caught:
        rpc(fn, {"workspace_id": "00000000-0000-4000-8000-000000000000", "amount": 1, "reason": "x"})
    assert (caught.value.sqlstate, caught.value.status, caught.value.message) == ("PT404", 404, "workspace_not_found")
    assert wallets.ledger_count() == 0


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
def test_a_reason_is_required(rpc: Rpc, factories: Factories, wallets: Wallets, reason: str | None) -> None:
    ws = factories.workspace()
    with pytest.raises(RpcError) as caught:
        rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 1, "reason": reason})
    assert (caught.value.sqlstate, caught.value.message) == ("22023", "invalid_reason")
    assert wallets.balance(ws.id) is None


def test_grant_credits_is_for_service_role_and_platform_admins(
    rpc: Rpc, factories: Factories, wallets: Wallets, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    admin = factories.platform_admin()

    granted = rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 25, "reason": "goodwill"}, as_=admin.jwt)

    assert granted["balance"] == 25 and granted["granted"] == 25
    actor = db.execute(
        "select actor_id, actor_role from public.wallet_ledger where id = %s", (granted["transaction_id"],)
    ).fetchone()
    assert actor == (admin.id, "authenticated")
    assert scalar(
        db,
        "select count(*) from public.audit_logs where action = 'grant_credits' and workspace_id = %s", (ws.id,)
    ) == 1
    for caller in (ws.owner.jwt, "anon"):
        with pytest.raises(RpcError) as caught:
            rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 25, "reason": "self-service"}, as_=caller)
        assert caught.value.sqlstate == "42501"
    assert wallets.balance(ws.id) == 25


def test_only_service_role_may_deduct(rpc: Rpc, factories: Factories, wallets: Wallets) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 10)
    for caller in (ws.owner.jwt, factories.platform_admin().jwt, "anon"):
        with pytest.raises(RpcError) as caught:
            rpc("deduct_credits", {"workspace_id": str(ws.id), "amount": 1, "reason": "x"}, as_=caller)
        assert caught.value.sqlstate == "42501"
    assert wallets.balance(ws.id) == 10


def test_balance_can_never_be_negative_even_by_direct_sql(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 5)
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("update public.workspace_wallets set balance = -1 where workspace_id = %s", (ws.id,))


def test_wallet_ledger_is_append_only(rpc: Rpc, factories: Factories, db: psycopg.Connection, wallets: Wallets) -> None:
    ws = factories.workspace()
    _grant(rpc, ws, 5)
    for statement in (
        "update public.wallet_ledger set amount = 500",
        "delete from public.wallet_ledger",
        "truncate public.wallet_ledger",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(statement)
    assert wallets.ledger_sum(ws.id) == 5


def test_members_read_their_wallet_but_cannot_write_it(rpc: Rpc, factories: Factories, db: psycopg.Connection) -> None:
    ws = factories.workspace()
    other = factories.workspace()
    _grant(rpc, ws, 5)
    _grant(rpc, other, 7)
    with db.transaction():
        db.execute("select set_config('request.jwt.claims', %s, true)", (f'{{"role":"authenticated","sub":"{ws.owner.id}"}}',))
        db.execute("set local role authenticated")
        seen = db.execute("select workspace_id, balance from public.workspace_wallets").fetchall()
        ledger = scalar(db, "select count(*) from public.wallet_ledger")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("update public.workspace_wallets set balance = 1000")
    assert seen == [(ws.id, 5)]
    assert ledger == 1
