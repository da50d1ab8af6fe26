"""``opsdb lint``: sqlfluff over db/ and the destructive-migration guard.

A versioned migration that drops or narrows something already in production
(DROP TABLE/COLUMN/SCHEMA/TYPE, TRUNCATE, ALTER COLUMN ... TYPE, SET NOT NULL)
must say so on its first line: ``-- opsdb:destructive <reason>``, so a reviewer
sees it before it lands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.migrate import discover

DESTRUCTIVE_PATTERNS: dict[str, re.Pattern[str]] = {
    "drop table": re.compile(r"\bdrop\s+table\b", re.I),
    "drop column": re.compile(r"\bdrop\s+column\b", re.I),
    "drop schema": re.compile(r"\bdrop\s+schema\b", re.I),
    "drop type": re.compile(r"\bdrop\s+type\b", re.I),
    "truncate": re.compile(r"^\s*truncate\b", re.I | re.M),
    "column type change": re.compile(r"\balter\s+column\s+\S+\s+(set\s+data\s+)?type\b", re.I),
    "set not null": re.compile(r"\bset\s+not\s+null\b", re.I),
}


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def _code_only(sql: str) -> str:
    """Blank out comments and string literals, keeping line numbers."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    sql = re.sub(r"--[^\n]*", blank, sql)
    sql = re.sub(r"/\*.*?\*/", blank, sql, flags=re.S)
    return re.sub(r"'(?:[^']|'')*'", blank, sql)


def destructive_findings(db_dir: Path) -> list[Finding]:
    findings = []
    for f in discover(db_dir):
        if f.kind != "versioned" or f.destructive_reason:
            continue
        code = _code_only(f.sql)
        for label, pattern in DESTRUCTIVE_PATTERNS.items():
            for match in pattern.finditer(code):
                line = code.count("\n", 0, match.start()) + 1
                findings.append(
                    Finding(
                        f"db/{f.name}",
                        line,
                        f"destructive change ({label}) without a first-line `-- opsdb:destructive <reason>` marker",
                    )
                )
    return sorted(findings, key=lambda f: (f.file, f.line))


def sqlfluff_findings(root: Path) -> list[Finding]:
    from sqlfluff.core import FluffConfig, Linter

    config = FluffConfig.from_path(str(root))
    linter = Linter(config=config)
    result = linter.lint_paths((str(root / "db"),), processes=-1)
    findings = []
    for record in result.as_records():
        path = Path(record["filepath"]).resolve()
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        for violation in record["violations"]:
            findings.append(
                Finding(rel, int(violation["start_line_no"]), f"{violation['code']}: {violation['description']}")
            )
    return findings


def lint(root: Path, out: Callable[[str], None] = print) -> int:
    findings = destructive_findings(root / "db") + sqlfluff_findings(root)
    for finding in findings:
        out(str(finding))
    return len(findings)
