"""Which database a command talks to, checked and described before connecting.

Resolution order: ``--database-url``; ``$DATABASE_URL``; libpq's ``PG*``
variables (``PGHOST``, ``PGPORT``, ``PGDATABASE``, ``PGUSER``, ``PGSERVICE``,
when any is set); the running local cluster. libpq also fills whatever a URL
leaves out from the same variables (``PGPASSWORD``, ``~/.pgpass``, ``PGSSLMODE``
...), as psql does. Every command prints the target first, password hidden, so a
DBA sees where it goes before anything happens there.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass

import psycopg
from psycopg import conninfo

from harness import project

# libpq's variables that name a server or database; any of them set means "use libpq's defaults".
PG_TARGET_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")
SCHEMES = ("postgresql://", "postgres://")
EXPECTED = "expected postgresql://user:password@host:5432/database (or libpq's key=value form, host=... dbname=...)"
DEFAULT_CONNECT_TIMEOUT = 10


class BadDatabaseUrl(ValueError):
    """The target cannot be a PostgreSQL connection string; the message never repeats a password."""


@dataclass(frozen=True)
class Target:
    url: str  # what psycopg and pg_dump are given (may contain a password)
    source: str  # where it came from: --database-url, DATABASE_URL, PG* variables, local cluster

    @property
    def description(self) -> str:
        return describe(self.url)


def _masked(text: str) -> str:
    """``text`` with a URL's password replaced by ***, for error messages."""
    return re.sub(r"(://[^:/@\s]*:)[^\s]*@", r"\1***@", text)


def parse(url: str) -> dict[str, str]:
    """The connection parameters of ``url``, or :class:`BadDatabaseUrl` saying what is wrong."""
    text = url.strip()
    if "://" in text and not text.startswith(SCHEMES):
        scheme = text.split("://", 1)[0]
        raise BadDatabaseUrl(f"the database URL starts with {scheme}://, not postgresql://; {EXPECTED}")
    try:
        params = {k: str(v) for k, v in conninfo.conninfo_to_dict(text).items() if v is not None}
    except psycopg.ProgrammingError as err:
        reason = " ".join(str(err).split())
        if not text.startswith(SCHEMES) and "=" not in text:
            reason = "it is neither a postgresql:// URL nor key=value pairs"
        raise BadDatabaseUrl(f"malformed database URL ({_masked(reason)}); {EXPECTED}") from None
    host = params.get("host", "")
    if "@" in host:
        raise BadDatabaseUrl(
            "malformed database URL: the host part contains '@'; a password with @, :, / or # in it must be "
            f"percent-encoded (@ is %40, : is %3A, / is %2F, # is %23); {EXPECTED}"
        )
    port = params.get("port", "")
    for one in filter(None, port.split(",")):
        if not one.isdigit() or not 0 < int(one) < 65536:
            raise BadDatabaseUrl(
                f"malformed database URL: the port {one!r} is not a number from 1 to 65535; {EXPECTED}"
            )
    return params


def describe(url: str) -> str:
    """``user@host:port/database``, with libpq's defaults filled in and no password."""
    params = parse(url)

    def value(key: str, env: str, default: str) -> str:
        return params.get(key) or os.environ.get(env) or default

    user = value("user", "PGUSER", getpass.getuser())  # libpq's default: the OS user's name
    host = value("host", "PGHOST", "") or value("hostaddr", "PGHOSTADDR", "") or "(Unix socket)"
    port = value("port", "PGPORT", "5432")
    dbname = value("dbname", "PGDATABASE", user)
    service = value("service", "PGSERVICE", "")
    where = f"{user}@{host}:{port}/{dbname}"
    return f"{where} (service {service})" if service else where


def pg_variables_url() -> str | None:
    """A conninfo string from libpq's PG* target variables, or None when none is set."""
    present = [name for name in PG_TARGET_VARIABLES if os.environ.get(name)]
    if not present:
        return None
    keys = {"PGHOST": "host", "PGHOSTADDR": "hostaddr", "PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "user",
            "PGSERVICE": "service"}
    return conninfo.make_conninfo(**{keys[name]: os.environ[name] for name in present})


def resolve(explicit: str | None) -> Target:
    """The target of a command (see the module's docstring for the order)."""
    if explicit:
        target = Target(explicit, "--database-url")
    elif env := os.environ.get("DATABASE_URL"):
        target = Target(env, "DATABASE_URL")
    elif from_pg := pg_variables_url():
        names = ", ".join(n for n in PG_TARGET_VARIABLES if os.environ.get(n))
        target = Target(from_pg, f"libpq variables {names}")
    else:
        cluster = project.local_cluster()
        if not cluster.is_running():
            raise RuntimeError(
                "no --database-url, no DATABASE_URL, no PGHOST/PGDATABASE, and the local cluster is not running: "
                "run `opsdb up`"
            )
        target = Target(cluster.url(), "the local cluster in .opsdb/")
    parse(target.url)  # refuse a malformed one before anything connects
    return target


def connect_timeout(option: int | None) -> int:
    """--connect-timeout, else $PGCONNECT_TIMEOUT, else 10 seconds."""
    if option is not None:
        return option
    env = os.environ.get("PGCONNECT_TIMEOUT", "")
    return int(env) if env.strip().isdigit() else DEFAULT_CONNECT_TIMEOUT


def is_local_cluster(url: str) -> bool:
    """True when ``url`` names the database of the local cluster in .opsdb/ (running or not)."""
    cluster = project.local_cluster()
    state = cluster.load_state()
    if state is None:
        return False
    params = parse(url)
    return (
        params.get("host") in ("127.0.0.1", "localhost")
        and params.get("port", "5432") == str(state.port)
        and params.get("dbname", params.get("user", "")) == cluster.dbname
    )
