"""What a test backend can give, and which tests to deselect where it cannot.

* ``embedded``: the embedded cluster itself (tests that restart it, change its
  settings, or read its pg_cron database). Only the embedded backend has it;
  tests using the ``opsdb_cluster`` fixture need it without saying so.
* ``pg_cron``: pg_cron in the test databases. pg_cron lives in exactly one
  database per server (``cron.database_name``); the embedded backend migrates its
  template there, while on any other server the suite works in databases of its
  own beside the one ``DATABASE_URL`` names, where pg_cron cannot be created.

On a backend that lacks a capability, the tests that need it are deselected and
listed with the reason at the end of the run; nothing is skipped silently, and
on the embedded backend (CI's) nothing is deselected at all.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
import pytest

from harness import pgcron

MARKER = "opsdb_needs"
CAPABILITIES = ("embedded", "pg_cron")
MARKER_HELP = (
    f"{MARKER}(*capabilities): the test needs {' or '.join(repr(c) for c in CAPABILITIES)}; "
    "on a backend without it, it is deselected and listed with the reason"
)


def needs(item: pytest.Item) -> set[str]:
    wanted: set[str] = set()
    for mark in item.iter_markers(MARKER):
        unknown = [c for c in mark.args if c not in CAPABILITIES]
        if unknown or not mark.args:
            raise pytest.UsageError(
                f"{item.nodeid}: @{MARKER}{mark.args} names no known capability; known: {', '.join(CAPABILITIES)}"
            )
        wanted.update(mark.args)
    if "opsdb_cluster" in getattr(item, "fixturenames", ()):
        wanted.add("embedded")
    return wanted


def _pg_cron_reason(database_url: str | None) -> str:
    base = (
        "pg_cron can only be created in the one database cron.database_name names, "
        "and the suite's databases are new ones"
    )
    if not database_url:
        return base
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
            f = pgcron.facts(conn)
    except psycopg.Error as err:
        return f"{base} (the server could not be asked: {' '.join(str(err).split())})"
    if not f.available:
        return "the server has no pg_cron (it is not in pg_available_extensions)"
    if not f.preloaded:
        return "pg_cron is not in the server's shared_preload_libraries"
    return f"pg_cron serves only database {f.cron_database!r} (cron.database_name); {base} beside {f.database!r}"


def missing(backend: str, database_url: str | None) -> dict[str, str]:
    """The capabilities ``backend`` lacks, each with why (asked of the server only when needed)."""
    if backend == "embedded":
        return {}
    return {
        "embedded": f"the {backend} backend is a server the suite does not start, and these tests restart or "
        "inspect the embedded cluster",
        "pg_cron": "",  # filled lazily: only a run with such tests asks the server
    }


def select(
    items: Iterable[pytest.Item], backend: str, database_url: str | None
) -> tuple[list[pytest.Item], list[tuple[pytest.Item, str]]]:
    """Split ``items`` into those to run and those to deselect, with the reason of each."""
    lacking = missing(backend, database_url)
    kept: list[pytest.Item] = []
    deselected: list[tuple[pytest.Item, str]] = []
    for item in items:
        gaps = sorted(needs(item) & lacking.keys())
        if not gaps:
            kept.append(item)
            continue
        if "pg_cron" in gaps and not lacking["pg_cron"]:
            lacking["pg_cron"] = _pg_cron_reason(database_url)
        deselected.append((item, f"needs {gaps[0]}: {lacking[gaps[0]]}"))
    return kept, deselected


def summary(deselected: list[tuple[pytest.Item, str]]) -> list[str]:
    """One line per reason with its count, then the tests it deselected."""
    by_reason: dict[str, list[str]] = {}
    for item, reason in deselected:
        by_reason.setdefault(reason, []).append(item.nodeid)
    lines: list[str] = []
    for reason, nodeids in by_reason.items():
        lines.append(f"{len(nodeids)} deselected, {reason}")
        lines += [f"    {nodeid}" for nodeid in nodeids]
    return lines
