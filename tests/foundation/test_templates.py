"""The templates of db/ are compiled once per process (harness.migrate.templates_for), so a
second discover is cheap; an edit is still seen at once, even one that leaves the file's
modification time as it was, and so is an edit of db/api.toml."""

from __future__ import annotations

import os
from pathlib import Path

from harness.migrate import discover

DECLARATION = """
[dashboard_metrics]
params = ["workspace_id uuid", "from_day date", "to_day date"]
returns = "setof public.dashboard_daily_metrics"
roles = ["authenticated", "service_role"]
contract = "dashboard_daily_metrics of one workspace."
volatility = "stable"
"""


def _rendered(db_dir: Path) -> str:
    return next(f.sql for f in discover(db_dir) if f.name == "functions/page.sql.j2")


def test_an_edited_template_or_declaration_is_rendered_anew(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "_macros.sql.j2").write_text("{% macro size() %}{{ api | length }}{% endmacro %}")
    template = tmp_path / "functions" / "page.sql.j2"
    template.write_text('{% from "functions/_macros.sql.j2" import size with context %}select {{ size() }};\n')
    assert _rendered(tmp_path) == "select 0;\n"

    stamp = template.stat()
    template.write_text('{% from "functions/_macros.sql.j2" import size with context %}select {{ size() }} + 1;\n')
    os.utime(template, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # the same modification time as before
    assert _rendered(tmp_path) == "select 0 + 1;\n"

    (tmp_path / "api.toml").write_text(DECLARATION)
    assert _rendered(tmp_path) == "select 1 + 1;\n"
