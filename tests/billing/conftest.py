"""Helpers for the billing tests: wallets, ledger sums, concurrent callers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from harness.rpc import SERVICE_ROLE, Jwt, RpcError, as_client_sees, call


class Wallets:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def balance(self, workspace_id: Any) -> Decimal | None:
        row = self.conn.execute(
            "select balance from public.workspace_wallets where workspace_id = %s", (workspace_id,)
        ).fetchone()
        return None if row is None else Decimal(row[0])

    def ledger_sum(self, workspace_id: Any) -> Decimal:
        row = self.conn.execute(
            "select coalesce(sum(amount), 0) from public.wallet_ledger where workspace_id = %s", (workspace_id,)
        ).fetchone()
        assert row is not None
        return Decimal(row[0])

    def ledger_count(self, workspace_id: Any | None = None) -> int:
        row = self.conn.execute(
            "select count(*) from public.wallet_ledger where %s::uuid is null or workspace_id = %s",
            (workspace_id, workspace_id),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def alerts(self, workspace_id: Any, type_: str) -> int:
        row = self.conn.execute(
            "select count(*) from public.alerts where workspace_id = %s and type = %s", (workspace_id, type_)
        ).fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
def wallets(db: psycopg.Connection) -> Wallets:
    return Wallets(db)


class ClientRpc:
    """``api(name, args)``: one PostgREST request, answered as a client sees it (see ``as_client_sees``)."""

    def __init__(self, rpc: Any) -> None:
        self.rpc = rpc

    def __call__(self, name: str, args: dict[str, Any] | None = None, *, as_: Jwt | str = SERVICE_ROLE) -> Any:
        return as_client_sees(self.rpc.response(name, args, as_=as_))


@pytest.fixture
def api(rpc: Any) -> ClientRpc:
    return ClientRpc(rpc)


Outcome = tuple[str, Any]  # ("ok", result) or ("error", RpcError)


@pytest.fixture
def run_concurrently(connect: Callable[..., psycopg.Connection]) -> Callable[..., list[list[Outcome]]]:
    """Run ``calls[i]`` (a list of (function, args)) on connection i, all threads started together;
    each answer as a PostgREST client sees it."""

    def _run(calls: list[list[tuple[str, dict[str, Any]]]]) -> list[list[Outcome]]:
        conns = [connect() for _ in calls]
        barrier = threading.Barrier(len(calls))
        results: list[list[Outcome]] = [[] for _ in calls]
        crashes: list[BaseException] = []

        def worker(i: int) -> None:
            try:
                barrier.wait()
                for name, args in calls[i]:
                    try:
                        results[i].append(("ok", as_client_sees(call(conns[i], name, args))))
                    except RpcError as err:
                        results[i].append(("error", err))
            except BaseException as exc:  # noqa: BLE001 - reported below
                crashes.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a worker hung"
        assert not crashes, crashes
        return results

    return _run
