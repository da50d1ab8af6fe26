"""Shared test helpers. The fixtures come from the opsdb pytest plugin
(harness/pytest_plugin.py, registered through the pytest11 entry point) under
prefixed names; this repository's own tests use the short names below."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from harness.factories import Factories
from harness.pytest_plugin import Rpc


@pytest.fixture
def db(opsdb_db: psycopg.Connection) -> psycopg.Connection:
    return opsdb_db


@pytest.fixture
def db_url(opsdb_db_url: str) -> str:
    return opsdb_db_url


@pytest.fixture
def connect(opsdb_connect: Callable[..., psycopg.Connection]) -> Callable[..., psycopg.Connection]:
    return opsdb_connect


@pytest.fixture
def rpc(opsdb_rpc: Rpc) -> Rpc:
    return opsdb_rpc


@pytest.fixture
def factories(opsdb_factories: Factories) -> Factories:
    return opsdb_factories


@pytest.fixture
def empty_database_url(opsdb_empty_database_url: str) -> str:
    return opsdb_empty_database_url
