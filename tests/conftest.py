"""Shared test helpers. The fixtures themselves come from the opsdb pytest plugin
(harness/pytest_plugin.py), registered through the pytest11 entry point."""

from typing import Any

import pytest
from hypothesis import settings

from harness import backends
from tests import cron_probes as probes

# Property tests are deterministic in CI and locally: the same examples on every run
# (derandomize), no example database carried between runs, no per-example deadline
# (each example talks to PostgreSQL on a shared machine). Each test bounds its own
# max_examples to keep the suite's time small.
settings.register_profile("opsdb", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("opsdb")


@pytest.fixture(scope="session")
def cron_probes(request: pytest.FixtureRequest) -> probes.CronProbes:
    """Jobs pg_cron runs itself in the embedded cluster's cron database (see tests/cron_probes.py)."""
    cluster = request.getfixturevalue("opsdb_cluster")
    return probes.schedule(cluster.url(probes.CRON_DATABASE))


@pytest.fixture(scope="session", autouse=True)
def _schedule_cron_probes_first(request: pytest.FixtureRequest) -> Any:
    # Scheduled before the first test when a test of the session reads them, so pg_cron
    # has run them by the time it does; embedded backend only (the probes need it).
    backend = request.config.getoption("--opsdb-backend") or backends.default_backend()
    if backend == "embedded" and any("cron_probes" in item.fixturenames for item in request.session.items):
        return request.getfixturevalue("cron_probes")
    return None
