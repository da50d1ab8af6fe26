"""Shared test helpers. The fixtures themselves come from the opsdb pytest plugin
(harness/pytest_plugin.py), registered through the pytest11 entry point."""
