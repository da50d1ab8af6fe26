"""pytest plugin (entry point ``pytest11``): a migrated PostgreSQL for every test.

Installed with opsdb, so it is loaded in every pytest run of that environment:
every fixture carries the ``opsdb_`` prefix, so none can shadow a fixture of
the repository that installed it (docs/pytest-plugin.md lists them).

* ``opsdb_server`` (session): the backend, its template database migrated once.
* ``opsdb_db``: a psycopg connection (autocommit) to a fresh clone of the template;
  pytest-postgresql's client factory creates it and drops it after the test.
* ``opsdb_db_url``: that clone's URL.
* ``opsdb_connect``: opens more connections to the same database (concurrency tests).
* ``opsdb_rpc``: ``opsdb_rpc(name, args, as_=...)`` calls a function as PostgREST would.
* ``opsdb_factories``: users, workspaces, memberships, agents, keys (:mod:`harness.factories`).
* ``opsdb_empty_database_url``: a brand-new empty database on the same server.
* ``opsdb_cluster``: the embedded cluster itself (embedded backend only).

Capabilities: a test marked ``@pytest.mark.opsdb_needs("pg_cron")`` or
``opsdb_needs("embedded")`` (tests that use ``opsdb_cluster`` are marked
automatically) is deselected, with the reason printed, on a backend that lacks
it; the embedded backend has every capability (see :mod:`harness.capabilities`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories as pg_factories
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from harness import backends, capabilities, project
from harness.factories import Factories
from harness.testing import Connect, Rpc


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("opsdb")
    group.addoption(
        "--opsdb-backend",
        choices=backends.BACKENDS,
        default=None,
        help="where the test PostgreSQL comes from (default: url when DATABASE_URL is set, else embedded)",
    )
    group.addoption(
        "--opsdb-docker-image",
        default="supabase/postgres:15.8.1.085",
        help="image for --opsdb-backend=docker (needs pg_cron)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", capabilities.MARKER_HELP)


def _backend(config: pytest.Config) -> str:
    return config.getoption("--opsdb-backend") or backends.default_backend()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, deselected = capabilities.select(items, _backend(config), os.environ.get("DATABASE_URL"))
    if deselected:
        config.hook.pytest_deselected(items=[item for item, _ in deselected])
        items[:] = kept
        config.stash[_DESELECTED] = deselected


def pytest_report_header(config: pytest.Config) -> str:
    return f"opsdb: backend {_backend(config)}, SQL from {project.db_dir()}"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    deselected = config.stash.get(_DESELECTED, [])
    if deselected:
        terminalreporter.section("opsdb: deselected, this backend lacks what they need")
        for line in capabilities.summary(deselected):
            terminalreporter.write_line(line)


_DESELECTED = pytest.StashKey[list[tuple[pytest.Item, str]]]()


@pytest.fixture(scope="session")
def opsdb_db_dir() -> Path:
    return project.db_dir()


@pytest.fixture(scope="session")
def opsdb_server(request: pytest.FixtureRequest, opsdb_db_dir: Path) -> Iterator[NoopExecutor]:
    backend = _backend(request.config)
    if backend == "embedded":
        with backends.embedded(opsdb_db_dir) as (executor, cluster):
            request.config.stash[_CLUSTER] = cluster
            yield executor
    elif backend == "url":
        with backends.from_url(opsdb_db_dir, _env_url()) as executor:
            yield executor
    else:
        if not backends.docker_usable():
            raise pytest.UsageError("--opsdb-backend=docker, but no Docker engine answers here")
        with backends.from_docker(opsdb_db_dir, request.config.getoption("--opsdb-docker-image")) as executor:
            yield executor


_CLUSTER = pytest.StashKey[Any]()


def _env_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise pytest.UsageError("--opsdb-backend=url needs DATABASE_URL")
    return url


@pytest.fixture(scope="session")
def opsdb_cluster(request: pytest.FixtureRequest, opsdb_server: NoopExecutor) -> Any:
    """The embedded cluster itself (only with the embedded backend)."""
    cluster = request.config.stash.get(_CLUSTER, None)
    if cluster is None:
        raise pytest.UsageError("this test needs the embedded backend (it restarts or inspects the cluster)")
    return cluster


# pytest-postgresql's client factory: CREATE DATABASE opsdb_test TEMPLATE opsdb_test_tmpl
# before each test, DROP DATABASE after it.
opsdb_clone = pg_factories.postgresql("opsdb_server")


@pytest.fixture
def opsdb_db(opsdb_clone: psycopg.Connection) -> psycopg.Connection:
    opsdb_clone.autocommit = True
    return opsdb_clone


@pytest.fixture
def opsdb_empty_database_url(opsdb_server: NoopExecutor) -> Iterator[str]:
    """A brand-new database from template0 (no compat layer, no migrations), dropped afterwards."""
    name = f"opsdb_empty_{uuid.uuid4().hex[:10]}"
    janitor = DatabaseJanitor(
        user=opsdb_server.user,
        host=opsdb_server.host,
        port=opsdb_server.port,
        password=opsdb_server.password,
        dbname=name,
        template_dbname="template0",
        maintenance_dbname=opsdb_server.maintenance_dbname,
    )
    with janitor:
        yield backends.url_of(opsdb_server, name)


@pytest.fixture
def opsdb_db_url(opsdb_db: psycopg.Connection) -> str:
    info = opsdb_db.info
    auth = info.user + (f":{info.password}" if info.password else "")
    return f"postgresql://{auth}@{info.host}:{info.port}/{info.dbname}"


@pytest.fixture
def opsdb_connect(opsdb_db_url: str) -> Iterator[Connect]:
    """Open extra autocommit connections to the test database; all closed afterwards."""
    with ExitStack() as stack:

        def _connect(**kwargs: Any) -> psycopg.Connection:
            kwargs.setdefault("autocommit", True)
            return stack.enter_context(psycopg.connect(opsdb_db_url, **kwargs))

        yield _connect


@pytest.fixture
def opsdb_rpc(opsdb_connect: Connect) -> Rpc:
    return Rpc(opsdb_connect())


@pytest.fixture
def opsdb_factories(opsdb_db: psycopg.Connection) -> Factories:
    return Factories(opsdb_db)
