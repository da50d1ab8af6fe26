"""Billing-domain helpers: wallet balances, ledger sums and alerts as the superuser; the API as a client sees it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg

from harness.testing import Rpc
from harness.rpc import SERVICE_ROLE, Jwt, as_client_sees

Outcome = tuple[str, Any]  # ("ok", result) or ("error", RpcError)
# run_concurrently(calls): calls[i], a list of (function, args), in turn on connection i; outcomes per connection.
RunConcurrently = Callable[[list[list[tuple[str, dict[str, Any]]]]], list[list[Outcome]]]


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


class ClientRpc:
    """``api(name, args)``: one PostgREST request, answered as a client sees it (see ``as_client_sees``)."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc

    def __call__(self, name: str, args: dict[str, Any] | None = None, *, as_: Jwt | str = SERVICE_ROLE) -> Any:
        return as_client_sees(self.rpc.response(name, args, as_=as_))
