"""Where the project's files are, and which database a command talks to."""

from __future__ import annotations

import os
from pathlib import Path

from harness.cluster import LocalCluster


def root() -> Path:
    """The project root: $OPSDB_ROOT, else the checkout this package lives in."""
    if env := os.environ.get("OPSDB_ROOT"):
        return Path(env).resolve()
    return Path(__file__).resolve().parent.parent


def db_dir() -> Path:
    return root() / "db"


def local_cluster() -> LocalCluster:
    """The embedded cluster of `opsdb up`, kept in .opsdb/ at the project root."""
    return LocalCluster(root() / ".opsdb", dbname="opsdb")


def resolve_database_url(explicit: str | None) -> str:
    """--database-url, else $DATABASE_URL, else the running local cluster."""
    if explicit:
        return explicit
    if env := os.environ.get("DATABASE_URL"):
        return env
    cluster = local_cluster()
    if not cluster.is_running():
        raise RuntimeError("no --database-url, no DATABASE_URL, and the local cluster is not running: run `opsdb up`")
    return cluster.url()
