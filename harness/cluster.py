"""The embedded local PostgreSQL cluster: initdb, start, stop, reuse.

A cluster lives in one base directory (``.opsdb/`` for ``opsdb up``, a temporary
directory for the test session). ``initdb`` and ``postgres`` refuse to run as
root, so when we are root every server command runs as the ``postgres`` OS user
(Debian's package creates it), and the data directory is owned by that user.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from harness.pgbin import PgBinaries, find_binaries, require_pg_cron

SUPERUSER = "postgres"
STATE_FILE = "cluster.json"
CONF_FILE = "opsdb.conf"


class ClusterError(RuntimeError):
    """The local cluster could not be created, started or stopped."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the postmaster binds: a port whose last connections linger in TIME_WAIT after
        # a restart is still free for it, so a restarted cluster keeps its port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class ClusterState:
    """What a second ``opsdb up`` needs to find the same cluster again."""

    pg_home: str
    port: int
    os_user: str | None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(self.pg_home) / "data"

    @property
    def log_file(self) -> Path:
        return Path(self.pg_home) / "server.log"


class LocalCluster:
    """One PostgreSQL cluster with pg_cron preloaded, listening on 127.0.0.1 only."""

    def __init__(self, base_dir: Path, *, dbname: str = "opsdb", fast: bool = False) -> None:
        self.base_dir = base_dir.resolve()
        self.dbname = dbname
        # fsync off is only for throw-away clusters (tests, bench): never for data you keep.
        self.fast = fast
        self._binaries: PgBinaries | None = None

    # -- discovery -----------------------------------------------------------------

    @property
    def binaries(self) -> PgBinaries:
        if self._binaries is None:
            self._binaries = find_binaries()
            require_pg_cron(self._binaries)
        return self._binaries

    @property
    def state_path(self) -> Path:
        return self.base_dir / STATE_FILE

    def load_state(self) -> ClusterState | None:
        if not self.state_path.exists():
            return None
        return ClusterState(**json.loads(self.state_path.read_text()))

    def _save_state(self, state: ClusterState) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(asdict(state), indent=2) + "\n")

    @property
    def state(self) -> ClusterState:
        state = self.load_state()
        if state is None:
            raise ClusterError(f"no local cluster in {self.base_dir}: run `opsdb up` first")
        return state

    def url(self, dbname: str | None = None) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.state.port}/{dbname or self.dbname}"

    # -- running as root -----------------------------------------------------------

    @staticmethod
    def _os_user() -> str | None:
        """The unprivileged user to run the server as, or None to run as ourselves."""
        if os.geteuid() != 0:
            return None
        for name in ("postgres",):
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                continue
        raise ClusterError(
            "running as root, and initdb refuses root, but there is no `postgres` OS user to run "
            "the server as; install Debian's postgresql-15 package (it creates the user) or run as a normal user"
        )

    def _run(self, args: list[str], os_user: str | None) -> subprocess.CompletedProcess[str]:
        if os_user:
            args = ["runuser", "-u", os_user, "--", *args]
        return subprocess.run(args, capture_output=True, text=True)

    def _choose_pg_home(self, os_user: str | None) -> Path:
        preferred = self.base_dir / "pg"
        preferred.mkdir(parents=True, exist_ok=True)
        if os_user is None:
            return preferred
        entry = pwd.getpwnam(os_user)
        os.chown(preferred, entry.pw_uid, entry.pw_gid)
        if self._run(["test", "-w", str(preferred)], os_user).returncode == 0:
            return preferred
        # The project sits where the server's user cannot reach (a 0700 temp dir,
        # /root): keep the data in a directory of its own instead.
        preferred.rmdir()
        digest = hashlib.sha1(str(self.base_dir).encode()).hexdigest()[:12]
        fallback = Path(tempfile.gettempdir()) / f"opsdb-{os_user}" / digest
        fallback.mkdir(parents=True, exist_ok=True)
        for path in (fallback.parent, fallback):
            os.chown(path, entry.pw_uid, entry.pw_gid)
            path.chmod(0o700)
        return fallback

    # -- lifecycle -----------------------------------------------------------------

    def _write_conf(self, state: ClusterState) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(state.port),
            "unix_socket_directories": "''",
            "shared_preload_libraries": "'pg_cron'",
            "cron.database_name": f"'{self.dbname}'",
            "max_connections": "200",
            "log_min_messages": "warning",
            "timezone": "'UTC'",
        }
        if self.fast:
            settings.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
        settings.update(state.settings)
        lines = ["# Written by opsdb (harness/cluster.py); edit through the harness, not by hand."]
        lines += [f"{key} = {value}" for key, value in sorted(settings.items())]
        conf = state.data_dir / CONF_FILE
        self._write_as(conf, "\n".join(lines) + "\n", state.os_user)

    def _write_as(self, path: Path, text: str, os_user: str | None) -> None:
        path.write_text(text)
        if os_user:
            entry = pwd.getpwnam(os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> ClusterState:
        """Create the cluster if it does not exist yet; return its state."""
        state = self.load_state()
        if state and (state.data_dir / "PG_VERSION").exists():
            return state
        os_user = self._os_user()
        pg_home = self._choose_pg_home(os_user)
        state = ClusterState(pg_home=str(pg_home), port=free_port(), os_user=os_user)
        if state.data_dir.exists():
            shutil.rmtree(state.data_dir)
        result = self._run(
            [
                self.binaries.path("initdb"),
                "-D",
                str(state.data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-instructions",
                *(["--no-sync"] if self.fast else []),
            ],
            os_user,
        )
        if result.returncode != 0:
            raise ClusterError(f"initdb failed in {state.data_dir}: {result.stderr.strip() or result.stdout.strip()}")
        with (state.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude_if_exists = '{CONF_FILE}'\n")
        self._save_state(state)
        self._write_conf(state)
        return state

    def is_running(self) -> bool:
        state = self.load_state()
        if state is None or not state.data_dir.exists():
            return False
        result = self._run([self.binaries.path("pg_ctl"), "-D", str(state.data_dir), "status"], state.os_user)
        return result.returncode == 0

    def start(self) -> ClusterState:
        state = self.init()
        if self.is_running():
            return state
        if not _port_is_free(state.port):
            state.port = free_port()
            self._save_state(state)
        self._write_conf(state)
        if state.os_user and not state.log_file.exists():
            self._write_as(state.log_file, "", state.os_user)
        result = self._run(
            [
                self.binaries.path("pg_ctl"),
                "-D",
                str(state.data_dir),
                "-l",
                str(state.log_file),
                "-w",
                "-t",
                "60",
                "start",
            ],
            state.os_user,
        )
        if result.returncode != 0:
            tail = state.log_file.read_text()[-2000:] if state.log_file.exists() else ""
            raise ClusterError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        self._wait_ready(state)
        return state

    def _wait_ready(self, state: ClusterState, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> bool:
        """Stop the server; return False when it was not running."""
        if not self.is_running():
            return False
        state = self.state
        result = self._run(
            [self.binaries.path("pg_ctl"), "-D", str(state.data_dir), "-m", "fast", "-w", "stop"], state.os_user
        )
        if result.returncode != 0:
            raise ClusterError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def restart_with(self, **settings: str) -> None:
        """Change server settings (postmaster-level ones such as cron.database_name) and restart."""
        state = self.state
        state.settings.update(settings)
        self._save_state(state)
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop the server and delete every file of the cluster."""
        state = self.load_state()
        self.stop()
        if state:
            shutil.rmtree(state.pg_home, ignore_errors=True)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- databases -----------------------------------------------------------------

    def ensure_database(self, dbname: str | None = None) -> str:
        """Create the database when it is missing; return its URL."""
        return self.ensure_database_from(dbname or self.dbname, template="template1")

    def ensure_database_from(self, dbname: str, *, template: str) -> str:
        """Create ``dbname`` as a copy of ``template`` unless it exists; return its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("create database {} template {}").format(sql.Identifier(dbname), sql.Identifier(template))
                )
        return self.url(dbname)
