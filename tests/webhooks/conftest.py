"""Webhook fixtures. The signing secrets, signed deliveries and agents on numbers
(``secrets``, ``sign``, ``ops``, ``deliver``) are shared with the fault and console
tests: they live in tests/support/webhooks.py, registered in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from harness.race import race_each
from harness.rpc import RpcError, call
from tests.support.webhooks import Concurrently, Outcome


@pytest.fixture
def concurrently(connect: Callable[..., psycopg.Connection]) -> Concurrently:
    """Run each (function, args) on its own connection, all released at the same instant."""

    def _run(calls: list[tuple[str, dict[str, Any]]], as_: Any = "service_role") -> list[Outcome]:
        def attempt(job: tuple[psycopg.Connection, str, dict[str, Any]]) -> Outcome:
            conn, name, args = job
            try:
                return ("ok", call(conn, name, args, as_=as_).data)
            except RpcError as err:
                return ("error", err)

        return race_each([(connect(), name, args) for name, args in calls], attempt)

    return _run
