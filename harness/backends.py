"""Where the test session's PostgreSQL comes from.

* ``embedded`` (default): a throw-away local cluster in a temporary directory.
* ``url``: an existing server named by ``$DATABASE_URL`` (the test databases are
  created beside the one it names, which is never touched).
* ``docker``: a container through testcontainers, selectable only when a Docker
  engine answers.

Each backend yields a :class:`pytest_postgresql.executors.NoopExecutor` whose
template database (``<dbname>_tmpl``) is already provisioned: compatibility
layer and every migration, applied once for the whole session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import psycopg
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from harness.cluster import SUPERUSER, LocalCluster
from harness.provision import provision

TEST_DBNAME = "opsdb_test"
CRON_DBNAME = "opsdb_cron"
BACKENDS = ("embedded", "url", "docker")


def docker_usable() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        import docker

        docker.from_env().ping()
    except Exception:  # any failure means: no engine we can use
        return False
    return True


def default_backend() -> str:
    return "url" if os.environ.get("DATABASE_URL") else "embedded"


def _prepare_template(executor: NoopExecutor, db_dir: Path) -> DatabaseJanitor:
    janitor = DatabaseJanitor(
        user=executor.user,
        host=executor.host,
        port=executor.port,
        password=executor.password,
        dbname=executor.template_dbname,
        as_template=True,
    )
    janitor.drop()
    janitor.init()
    url = url_of(executor, executor.template_dbname)
    provision(url, db_dir, out=lambda _line: None)
    return janitor


def url_of(executor: NoopExecutor, dbname: str) -> str:
    auth = executor.user + (f":{executor.password}" if executor.password else "")
    return f"postgresql://{auth}@{executor.host}:{executor.port}/{dbname}"


OWNER_FILE = "owner.pid"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_orphans(prefix: str = "opsdb-test-") -> list[Path]:
    """Destroy throw-away clusters whose test session died without tearing down (kill -9, timeout)."""
    reaped = []
    for base in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        owner = base / OWNER_FILE
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(pid):
            LocalCluster(base).destroy()
            reaped.append(base)
    return reaped


@contextmanager
def embedded(db_dir: Path) -> Iterator[tuple[NoopExecutor, LocalCluster]]:
    reap_orphans()
    base = Path(tempfile.mkdtemp(prefix="opsdb-test-"))
    # mkdtemp makes the directory 0700; let the server's OS user (when we are
    # root) reach its data directory inside it, so nothing lands elsewhere.
    base.chmod(0o755)
    (base / OWNER_FILE).write_text(str(os.getpid()))
    executor_db = TEST_DBNAME
    # pg_cron can only be created in cron.database_name, and its launcher stays
    # connected to that database, which would block cloning it. So: migrate the
    # template while it is the cron database, then point the launcher elsewhere.
    cluster = LocalCluster(base, dbname=f"{executor_db}_tmpl", fast=True)
    try:
        state = cluster.start()
        executor = NoopExecutor(host="127.0.0.1", port=state.port, user=SUPERUSER, options="", dbname=executor_db)
        _prepare_template(executor, db_dir)
        cluster.restart_with(**{"cron.database_name": f"'{CRON_DBNAME}'"})
        # cron.schedule() in any clone records jobs for the cron database, so it must exist.
        cron_url = cluster.ensure_database_from(CRON_DBNAME, template=executor.template_dbname)
        # Jobs scheduled while migrating the template point at the template; run them
        # in the cron database instead, or pg_cron would connect to the template each
        # minute and block the clone of whichever test starts at that moment.
        with psycopg.connect(cron_url, autocommit=True) as conn:
            conn.execute("update cron.job set database = current_database()")
        executor = NoopExecutor(
            host="127.0.0.1", port=cluster.state.port, user=SUPERUSER, options="", dbname=executor_db
        )
        yield executor, cluster
    finally:
        cluster.destroy()


@contextmanager
def from_url(db_dir: Path, url: str) -> Iterator[NoopExecutor]:
    parsed = urlparse(url)
    executor = NoopExecutor(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or SUPERUSER,
        password=parsed.password,
        options="",
        dbname=f"{TEST_DBNAME}_{os.getpid()}",
        maintenance_dbname=(parsed.path or "/postgres").lstrip("/") or "postgres",
    )
    janitor = _prepare_template(executor, db_dir)
    try:
        yield executor
    finally:
        janitor.drop()


@contextmanager
def from_docker(db_dir: Path, image: str) -> Iterator[NoopExecutor]:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(image, username="postgres", password="postgres", dbname="postgres")
    container.with_command("postgres -c shared_preload_libraries=pg_cron -c cron.database_name=postgres")
    with container:
        url = container.get_connection_url(driver=None)
        with from_url(db_dir, url) as executor:
            yield executor
