"""Tests that need what only the embedded cluster gives are deselected elsewhere, with the reason.

A small test file runs in a pytest of its own: against the session's server as
a plain ``DATABASE_URL`` (the url backend, as a DBA would run the suite against
their server), and on the default embedded backend, where nothing is deselected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_postgresql.executors import NoopExecutor

from harness import backends, capabilities

INNER = """
import pytest


@pytest.mark.opsdb_needs("pg_cron")
def test_reads_cron_jobs():
    pass


def test_restarts_the_cluster(opsdb_cluster):
    pass


def test_needs_nothing_special():
    pass
"""


def _pytest(folder: Path, database_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture
def inner(tmp_path: Path) -> Path:
    (tmp_path / "test_inner.py").write_text(INNER)
    return tmp_path


def test_another_server_deselects_what_it_cannot_run_and_says_why(inner: Path, opsdb_server: NoopExecutor) -> None:
    url = backends.url_of(opsdb_server, opsdb_server.maintenance_dbname)

    result = _pytest(inner, url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 2 deselected" in result.stdout
    summary = result.stdout.split("opsdb: deselected, this backend lacks what they need", 1)[1]
    assert "1 deselected, needs embedded: the url backend is a server the suite does not start" in summary
    assert "    test_inner.py::test_restarts_the_cluster" in summary
    # Why depends on the server: no pg_cron, not preloaded, or serving another database.
    assert f"1 deselected, needs pg_cron: {capabilities._pg_cron_reason(url)}\n" in summary
    assert "    test_inner.py::test_reads_cron_jobs" in summary


def test_the_embedded_backend_deselects_and_skips_nothing(inner: Path) -> None:
    result = _pytest(inner, None)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert "deselected" not in result.stdout and "skipped" not in result.stdout


def test_a_misspelt_capability_is_a_usage_error(inner: Path) -> None:
    (inner / "test_inner.py").write_text('import pytest\n\n@pytest.mark.opsdb_needs("pgcron")\ndef test_x():\n    pass\n')

    result = _pytest(inner, None)

    assert result.returncode == 4
    assert "names no known capability; known: embedded, pg_cron" in result.stderr
