"""Helpers for the billing tests: wallets, ledger sums, concurrent callers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from harness.race import race_each
from harness.rpc import RpcError, call
from tests.support.billing import Outcome, RunConcurrently, Wallets


@pytest.fixture
def wallets(db: psycopg.Connection) -> Wallets:
    return Wallets(db)


@pytest.fixture
def run_concurrently(connect: Callable[..., psycopg.Connection]) -> RunConcurrently:
    """Run ``calls[i]`` (a list of (function, args)) on connection i, all threads started together."""

    def _run(calls: list[list[tuple[str, dict[str, Any]]]]) -> list[list[Outcome]]:
        def in_turn(job: tuple[psycopg.Connection, list[tuple[str, dict[str, Any]]]]) -> list[Outcome]:
            conn, steps = job
            outcomes: list[Outcome] = []
            for name, args in steps:
                try:
                    outcomes.append(("ok", call(conn, name, args).data))
                except RpcError as err:
                    outcomes.append(("error", err))
            return outcomes

        return race_each([(connect(), steps) for steps in calls], in_turn)

    return _run
