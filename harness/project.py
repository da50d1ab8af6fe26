"""Where the project's files are, and which database a command talks to.

The SQL (``db/``) is found, in order: under ``$OPSDB_ROOT`` when it is set (and
nowhere else: a wrong root fails loudly); in the checkout this package was
imported from (a clone, or an editable install); in the copy shipped inside the
installed package (``harness/_db``, put there by ``setup.py`` when a wheel is
built), so that ``pip install`` gives the CLI and the pytest plugin everything.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.cluster import LocalCluster

PACKAGE_DIR = Path(__file__).resolve().parent
# The copy of db/ inside a built wheel; absent in a checkout.
PACKAGED_DB = PACKAGE_DIR / "_db"


class ProjectNotFound(RuntimeError):
    """No db/ folder where one was expected; the message says where we looked."""


def _checkout() -> Path | None:
    """The clone this package lives in, when it is one (pyproject.toml and db/ beside harness/)."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / "db" / "migrations").is_dir():
        return candidate
    return None


def root() -> Path:
    """$OPSDB_ROOT, else the checkout, else (an installed package) the working directory.

    The root holds ``.opsdb/`` (the local cluster of ``opsdb up``) and, in a
    checkout, ``db/`` and the lint configuration.
    """
    if env := os.environ.get("OPSDB_ROOT"):
        return Path(env).resolve()
    return _checkout() or Path.cwd().resolve()


def db_dir() -> Path:
    """The folder holding migrations/, functions/, policies/ and cron/."""
    if env := os.environ.get("OPSDB_ROOT"):
        folder = Path(env).resolve() / "db"
        if not (folder / "migrations").is_dir():
            raise ProjectNotFound(
                f"OPSDB_ROOT is {env}, but {folder / 'migrations'} does not exist: point OPSDB_ROOT at a "
                "checkout of opsdb (the folder holding db/), or unset it to use the SQL shipped with the package"
            )
        return folder
    if checkout := _checkout():
        return checkout / "db"
    if (PACKAGED_DB / "migrations").is_dir():
        return PACKAGED_DB
    raise ProjectNotFound(
        f"no db/ folder: not in a checkout ({PACKAGE_DIR.parent} has no pyproject.toml and db/migrations) and "
        f"no SQL shipped in the package ({PACKAGED_DB} is missing). Reinstall opsdb from a wheel built by "
        "`pip wheel`, or set OPSDB_ROOT to a checkout of opsdb"
    )


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
