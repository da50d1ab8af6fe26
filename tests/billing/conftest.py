"""Billing fixtures: wallets, a client's view of the API, concurrent callers (helpers in tests/support/billing.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from harness.testing import Rpc
from harness.race import race_each
from harness.rpc import RpcError, as_client_sees, call
from tests.support.billing import ClientRpc, Outcome, RunConcurrently, Wallets


@pytest.fixture
def wallets(db: psycopg.Connection) -> Wallets:
    return Wallets(db)


@pytest.fixture
def api(rpc: Rpc) -> ClientRpc:
    return ClientRpc(rpc)


@pytest.fixture
def run_concurrently(connect: Callable[..., psycopg.Connection]) -> RunConcurrently:
    """Run ``calls[i]`` (a list of (function, args)) on connection i, all threads started together;
    each answer as a PostgREST client sees it."""

    def _run(calls: list[list[tuple[str, dict[str, Any]]]]) -> list[list[Outcome]]:
        def in_turn(job: tuple[psycopg.Connection, list[tuple[str, dict[str, Any]]]]) -> list[Outcome]:
            conn, steps = job
            outcomes: list[Outcome] = []
            for name, args in steps:
                try:
                    outcomes.append(("ok", as_client_sees(call(conn, name, args))))
                except RpcError as err:
                    outcomes.append(("error", err))
            return outcomes

        return race_each([(connect(), steps) for steps in calls], in_turn)

    return _run
