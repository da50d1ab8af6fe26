"""Bench scenarios: each module here exposes ``SCENARIOS: list[bench.scenario.Scenario]``.

Modules are discovered in name order (``_``-prefixed ones are skipped); a domain
adds ``<domain>.py`` and never edits another module. See bench/README.md.
"""
