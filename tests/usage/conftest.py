"""Helpers for the usage tests: read the metering tables as the superuser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.usage import ChangePlan, Limiter, UsageReader


@pytest.fixture
def usage(db: psycopg.Connection) -> UsageReader:
    return UsageReader(db)


@pytest.fixture
def change_plan(db: psycopg.Connection) -> ChangePlan:
    """What subscription activation does: set plan_key, then private.on_plan_change, in one transaction."""

    def _change(workspace_id: Any, plan_key: str, reason: str = "test upgrade") -> None:
        with db.transaction():
            db.execute("update public.workspaces set plan_key = %s where id = %s", (plan_key, workspace_id))
            db.execute("select private.on_plan_change(%s, %s, %s)", (workspace_id, plan_key, reason))

    return _change


@pytest.fixture
def limiter(connect: Callable[..., psycopg.Connection]) -> Limiter:
    return Limiter(connect())
