"""Shared test helpers. The fixtures come from the opsdb pytest plugin
(harness/pytest_plugin.py, registered through the pytest11 entry point) under
prefixed names; this repository's own tests use the short names below."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import settings

from harness import backends
from harness.factories import Factories
from harness.testing import Connect, Rpc
from tests import cron_probes as probes

# Fixtures more than one domain's tests use (the webhook suite's signing secrets,
# signed deliveries and agents serve the fault and console tests too).
pytest_plugins = ["tests.support.webhooks"]

# Property tests are deterministic in CI and locally: the same examples on every run
# (derandomize), no example database carried between runs, no per-example deadline
# (each example talks to PostgreSQL on a shared machine). Each test bounds its own
# max_examples to keep the suite's time small.
settings.register_profile("opsdb", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("opsdb")


@pytest.fixture
def db(opsdb_db: psycopg.Connection) -> psycopg.Connection:
    return opsdb_db


@pytest.fixture
def db_url(opsdb_db_url: str) -> str:
    return opsdb_db_url


@pytest.fixture
def connect(opsdb_connect: Connect) -> Connect:
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


@pytest.fixture(scope="session")
def cron_probes(opsdb_cluster: Any) -> probes.CronProbes:
    """Jobs pg_cron runs itself in the embedded cluster's cron database (see tests/cron_probes.py).

    Declared on ``opsdb_cluster`` so the tests using it need the embedded backend."""
    return probes.schedule(opsdb_cluster.url(probes.CRON_DATABASE))


@pytest.fixture(scope="session", autouse=True)
def _schedule_cron_probes_first(request: pytest.FixtureRequest) -> Any:
    # Scheduled before the first test when a test of the session reads them, so pg_cron
    # has run them by the time it does; embedded backend only (the probes need it).
    backend = request.config.getoption("--opsdb-backend") or backends.default_backend()
    if backend == "embedded" and any(
        isinstance(item, pytest.Function) and "cron_probes" in item.fixturenames for item in request.session.items
    ):
        return request.getfixturevalue("cron_probes")
    return None
