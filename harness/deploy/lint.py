"""``opsdb lint``: squawk over new migrations, sqlfluff over db/, plpgsql_check on a database.

* squawk judges the versioned migrations that have not landed yet
  (:mod:`harness.deploy.squawk`): a destructive change needs the first-line marker
  ``-- opsdb:destructive <reason>``, a reviewer's override; unsafe locking fails;
* sqlfluff checks the style of every file (config in ``.sqlfluff``), a template
  (``*.sql.j2``) as the runner renders it;
* with a database (``--database-url``), plpgsql_check checks every PL/pgSQL
  function in it (:mod:`harness.deploy.plpgsql_check`): errors fail, warnings are listed;
* in a checkout, mypy checks the Python (harness/, bench/, tests/; its files and
  options are ``[tool.mypy]`` in pyproject.toml): every error fails.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def sqlfluff_findings(root: Path) -> list[Finding]:
    """sqlfluff over db/: plain files as they are, templates (*.sql.j2) as the runner renders them."""
    from sqlfluff.core import FluffConfig, Linter

    from harness.migrate import render

    config = FluffConfig.from_path(str(root))
    linter = Linter(config=config)
    records = linter.lint_paths((str(root / "db"),), processes=-1).as_records()
    linted = [(r["filepath"], r["violations"]) for r in records]
    db_dir = root / "db"
    for template in sorted(db_dir.rglob("*.sql.j2")):
        if template.name.startswith("_"):
            continue  # a partial: its macros are linted where a file renders them
        rendered = linter.lint_string(render(template, db_dir), fname=str(template))
        linted.append((str(template), [v.to_dict() for v in rendered.violations]))
    findings = []
    for filepath, violations in linted:
        path = Path(filepath).resolve()
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        for violation in violations:
            line = violation["start_line_no"]
            assert isinstance(line, int)
            findings.append(Finding(rel, line, f"{violation['code']}: {violation['description']}"))
    return findings


def mypy_errors(root: Path) -> list[str]:
    """mypy's errors over the Python of a checkout at ``root``; none where ``root`` configures no mypy
    (an installed package, a project of SQL only)."""
    config = root / "pyproject.toml"
    if not config.is_file() or "[tool.mypy]" not in config.read_text():
        return []
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=root, capture_output=True, text=True)
    if result.returncode == 0:
        return []
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    return errors or [f"mypy could not run: {(result.stderr or result.stdout).strip()}"]


def lint(root: Path, out: Callable[[str], None] = print, database_url: str | None = None) -> int:
    """Print every finding; return how many fail the lint (accepted ones and warnings do not)."""
    from harness.deploy import plpgsql_check, squawk

    failing = 0
    for finding in squawk.findings(root):
        out(str(finding))
        failing += finding.accepted_by is None
    for sqlfluff_finding in sqlfluff_findings(root):
        out(str(sqlfluff_finding))
        failing += 1
    for error in mypy_errors(root):
        out(error)
        failing += 1
    if database_url is not None:
        for problem in plpgsql_check.check(database_url):
            out(str(problem))
            failing += problem.is_error
    return failing
