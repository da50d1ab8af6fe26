"""Shared test helpers. The fixtures themselves come from the opsdb pytest plugin
(harness/pytest_plugin.py), registered through the pytest11 entry point."""

from hypothesis import settings

# Property tests are deterministic in CI and locally: the same examples on every run
# (derandomize), no example database carried between runs, no per-example deadline
# (each example talks to PostgreSQL on a shared machine). Each test bounds its own
# max_examples to keep the suite's time small.
settings.register_profile("opsdb", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("opsdb")
