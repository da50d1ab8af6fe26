"""pytest plugin (entry point ``pytest11``): a migrated PostgreSQL for every test.

Fixtures:

* ``opsdb_server`` (session): the backend, its template database migrated once.
* ``db``: a psycopg connection (autocommit) to a fresh clone of the template;
  pytest-postgresql's client factory creates it and drops it after the test.
* ``connect``: opens more connections to the same database (concurrency tests).
* ``rpc``: ``rpc(name, args, as_=...)`` calls a function as PostgREST would.
* ``factories``: users, workspaces and memberships (see :mod:`harness.factories`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories as pg_factories
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from harness import backends, project
from harness.factories import Factories
from harness.rpc import SERVICE_ROLE, Jwt, RpcResponse, call


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


@pytest.fixture(scope="session")
def opsdb_db_dir() -> Path:
    return project.db_dir()


@pytest.fixture(scope="session")
def opsdb_server(request: pytest.FixtureRequest, opsdb_db_dir: Path) -> Iterator[NoopExecutor]:
    backend = request.config.getoption("--opsdb-backend") or backends.default_backend()
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
def db(opsdb_clone: psycopg.Connection) -> psycopg.Connection:
    opsdb_clone.autocommit = True
    return opsdb_clone


@pytest.fixture
def empty_database_url(opsdb_server: NoopExecutor) -> Iterator[str]:
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
def db_url(db: psycopg.Connection) -> str:
    info = db.info
    auth = info.user + (f":{info.password}" if info.password else "")
    return f"postgresql://{auth}@{info.host}:{info.port}/{info.dbname}"


@pytest.fixture
def connect(db_url: str) -> Iterator[Callable[..., psycopg.Connection]]:
    """Open extra autocommit connections to the test database; all closed afterwards."""
    with ExitStack() as stack:

        def _connect(**kwargs: Any) -> psycopg.Connection:
            kwargs.setdefault("autocommit", True)
            return stack.enter_context(psycopg.connect(db_url, **kwargs))

        yield _connect


class Rpc:
    """``rpc(name, args, as_=...)``: one PostgREST request; see :mod:`harness.rpc`."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.last: RpcResponse | None = None

    def __call__(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        as_: Jwt | str = SERVICE_ROLE,
        headers: dict[str, str] | None = None,
    ) -> Any:
        self.last = call(self.conn, name, args, as_=as_, headers=headers)
        return self.last.data

    def response(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        as_: Jwt | str = SERVICE_ROLE,
        headers: dict[str, str] | None = None,
    ) -> RpcResponse:
        """Like calling, but returns the whole response (status, headers)."""
        self.last = call(self.conn, name, args, as_=as_, headers=headers)
        return self.last


@pytest.fixture
def rpc(connect: Callable[..., psycopg.Connection]) -> Rpc:
    return Rpc(connect())


@pytest.fixture
def factories(db: psycopg.Connection) -> Factories:
    return Factories(db)
