"""credits_exhausted: raised on the first refusal too (not only at exactly zero), once
while it stays open, and resolved by a grant that restores the balance.

A refusal through PostgREST answers HTTP 402 with PostgREST's error body and keeps
its alert; from plain SQL it raises PT402 and keeps nothing, like every failed call."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from harness.factories import Factories
from harness.rpc import RpcError
from harness.testing import Rpc
from tests.support.billing import ClientRpc, RunConcurrently, Wallets


def _alerts(db: psycopg.Connection, ws: Any) -> list[tuple]:
    return db.execute(
        "select details ->> 'requested', resolved_at is not null, resolved_by, resolution from public.alerts"
        " where workspace_id = %s and type = 'credits_exhausted' order by id",
        (ws.id,),
    ).fetchall()


def _deduct(ws: Any, amount: Any, reason: str = "call") -> dict[str, Any]:
    return {"workspace_id": str(ws.id), "amount": amount, "reason": reason}


def test_a_refused_charge_raises_credits_exhausted_once_while_it_is_open(
    rpc: Rpc, api: ClientRpc, factories: Factories, wallets: Wallets, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 10, "reason": "top-up"})
    rpc("deduct_credits", _deduct(ws, 9.7))  # 0.3 left: not zero, no alert yet
    assert _alerts(db, ws) == []

    response = rpc.response("deduct_credits", _deduct(ws, 1))
    for _ in range(3):
        with pytest.raises(RpcError):
            api("deduct_credits", _deduct(ws, 2))

    assert response.status == 402
    assert response.data == {
        "code": "PT402",
        "message": "insufficient_credits",
        "details": f"workspace {ws.id} has 0.3000 credits, 1 requested",
        "hint": "Grant or buy credits, then retry.",
    }
    assert wallets.balance(ws.id) == Decimal("0.3")
    assert wallets.ledger_count(ws.id) == 2
    assert _alerts(db, ws) == [("1", False, None, None)]


def test_two_refusals_racing_raise_one_alert(
    rpc: Rpc, factories: Factories, wallets: Wallets, db: psycopg.Connection, run_concurrently: RunConcurrently
) -> None:
    ws = factories.workspace()
    rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 0.5, "reason": "top-up"})

    results = run_concurrently([[("deduct_credits", _deduct(ws, 1, f"call {i}"))] for i in range(2)])

    assert [(kind, getattr(value, "sqlstate", None)) for [(kind, value)] in results] == [("error", "PT402")] * 2
    assert wallets.balance(ws.id) == Decimal("0.5")
    assert len(_alerts(db, ws)) == 1


def test_a_refusal_from_plain_sql_raises_pt402_and_keeps_nothing(
    factories: Factories, db: psycopg.Connection, wallets: Wallets
) -> None:
    ws = factories.workspace()
    with pytest.raises(psycopg.Error) as caught:
        db.execute("select public.deduct_credits(%s, 1, 'call')", (ws.id,))
    assert (caught.value.sqlstate, caught.value.diag.message_primary) == ("PT402", "insufficient_credits")
    assert _alerts(db, ws) == []


def test_a_grant_that_restores_the_balance_resolves_the_alert(
    rpc: Rpc, api: ClientRpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 1, "reason": "top-up"})
    with pytest.raises(RpcError):
        api("deduct_credits", _deduct(ws, 5))

    small = rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 2, "reason": "top-up 2"})  # 3: still short of 5
    assert _alerts(db, ws) == [("5", False, None, None)]
    enough = rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 2, "reason": "top-up 3"})

    assert (small["balance"], enough["balance"]) == (3, 5)
    assert _alerts(db, ws) == [
        ("5", True, None, f"auto: credits granted (transaction {enough['transaction_id']}), balance 5.0000")
    ]
    # history kept; a new shortage raises a new alert
    rpc("deduct_credits", _deduct(ws, 5))
    assert [resolved for _, resolved, _, _ in _alerts(db, ws)] == [True, False]


def test_a_wallet_run_to_zero_is_alerted_and_any_grant_resolves_it(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 4, "reason": "top-up"})
    rpc("deduct_credits", _deduct(ws, 4))
    assert [resolved for _, resolved, _, _ in _alerts(db, ws)] == [False]

    rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 0.5, "reason": "top-up"})

    assert [resolved for _, resolved, _, _ in _alerts(db, ws)] == [True]
