"""squawk over the versioned migrations: the migration half of ``opsdb lint``.

squawk (PyPI ``squawk-cli``, its binary ships in the wheel) knows which
statements lock a busy table or break clients. Its configuration is
``.squawk.toml`` at the project root: rules, the PostgreSQL version, and the
landed migrations (``excluded_paths``), accepted as they are so that only new
files are judged. ``opsdb lint --accept`` appends new files once they are clean.

How findings are judged:

* a finding of a *destructive* rule (a drop, a type change, a rename, NOT NULL
  on a filled table, ...) is accepted when the file's first line is the
  reviewed override ``-- opsdb:destructive <reason>``; without it, it fails;
* every other finding (non-concurrent index builds on existing tables,
  constraints without NOT VALID, ...) fails: write the migration the safe way,
  or silence one statement with squawk's own ``-- squawk-ignore <rule>`` where
  the table is known to be small, which a reviewer then sees;
* ``squawk-ignore`` may not name a destructive rule: the marker is the override;
* squawk has no rule for a plain ``TRUNCATE`` and, for files it assumes to be
  in a transaction, none for ``CONCURRENTLY``: the project adds ``truncate``
  (judged like a destructive rule) and ``concurrently-in-transaction``, found
  with PostgreSQL's parser.

Files marked ``-- opsdb:no-transaction`` are linted without squawk's
``assume_in_transaction``, since the runner does not wrap them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pglast import parser

from harness.migrate import SqlFile, discover
from harness.sqlsplit import split

CONFIG = ".squawk.toml"

# Rules whose findings the `-- opsdb:destructive <reason>` marker accepts.
DESTRUCTIVE_RULES = frozenset(
    {
        "ban-drop-table",
        "ban-drop-column",
        "ban-drop-constraint",
        "ban-drop-schema",
        "ban-drop-type",
        "ban-drop-view",
        "ban-drop-function",
        "ban-drop-database",
        "ban-drop-not-null",
        "ban-drop-generated-expression",
        "ban-truncate-cascade",
        "changing-column-type",
        "renaming-column",
        "renaming-table",
        "adding-not-nullable-field",
        "adding-required-field",
        "truncate",
    }
)

_IGNORE = re.compile(r"--\s*squawk-ignore(?:-file)?\b([^\n]*)")


@dataclass(frozen=True)
class Finding:
    file: str  # db/migrations/...
    line: int  # 1-based
    rule: str
    message: str
    accepted_by: str | None = None  # the destructive marker's reason, when it accepts this finding

    def __str__(self) -> str:
        status = f" (accepted: opsdb:destructive {self.accepted_by})" if self.accepted_by else ""
        return f"{self.file}:{self.line}: squawk {self.rule}: {self.message}{status}"


def squawk_binary() -> str:
    """The squawk installed beside this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    if beside.exists():
        return str(beside)
    found = shutil.which("squawk")
    if not found:
        raise RuntimeError("squawk is not installed: pip install squawk-cli (make deps does)")
    return found


def config(root: Path) -> dict[str, object]:
    path = root / CONFIG
    return tomllib.loads(path.read_text()) if path.exists() else {}


def accepted(root: Path) -> set[str]:
    paths = config(root).get("excluded_paths", [])
    return {str(p) for p in paths} if isinstance(paths, list) else set()


def new_migrations(root: Path) -> list[SqlFile]:
    """Versioned files not recorded as landed in .squawk.toml."""
    done = accepted(root)
    return [f for f in discover(root / "db") if f.kind == "versioned" and f"db/{f.name}" not in done]


def _run_squawk(root: Path, files: list[SqlFile], *, in_transaction: bool) -> list[dict[str, object]]:
    if not files:
        return []
    with tempfile.TemporaryDirectory(prefix="opsdb-squawk-") as tmp:
        paths = []
        for f in files:
            # Rendered text (templates included), under the file's own name.
            target = Path(tmp) / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.sql)
            paths.append(str(target))
        args = [squawk_binary(), "--reporter", "json"]
        if (root / CONFIG).exists():
            args += ["--config", str(root / CONFIG)]
        args.append("--assume-in-transaction" if in_transaction else "--no-assume-in-transaction")
        result = subprocess.run([*args, *paths], capture_output=True, text=True, cwd=tmp, timeout=300)
        if result.returncode not in (0, 1) or not result.stdout.strip().startswith("["):
            raise RuntimeError(f"squawk failed: {' '.join((result.stderr or result.stdout).split())}")
        violations = json.loads(result.stdout)
        for v in violations:
            v["file"] = "db/" + Path(str(v["file"])).resolve().relative_to(Path(tmp).resolve()).as_posix()
        return violations


def _project_rules(f: SqlFile) -> list[Finding]:
    """What squawk does not flag: a plain TRUNCATE, and CONCURRENTLY in a file the runner wraps in a transaction."""
    found = []
    for stmt in split(f.sql):
        first = next((t for t in parser.scan(stmt.text) if t.name not in ("SQL_COMMENT", "C_COMMENT")), None)
        if first is None:
            continue
        line = stmt.line + stmt.text.count("\n", 0, first.start)
        if first.name == "TRUNCATE":
            found.append(Finding(f"db/{f.name}", line, "truncate", "TRUNCATE empties the table for good."))
        if not f.no_transaction and _is_concurrent(stmt.text):
            found.append(
                Finding(
                    f"db/{f.name}",
                    line,
                    "concurrently-in-transaction",
                    "CONCURRENTLY cannot run inside the file's transaction: put it in a file whose first line is"
                    " `-- opsdb:no-transaction`.",
                )
            )
    return found


def _is_concurrent(text: str) -> bool:
    try:
        [raw] = parser.parse_sql(text)
    except (parser.ParseError, ValueError):
        return False
    return bool(getattr(raw.stmt, "concurrent", False))


def _ignored_destructive(f: SqlFile) -> list[Finding]:
    found = []
    for match in _IGNORE.finditer(f.sql):
        rules = {r.strip() for r in match.group(1).split(",") if r.strip()} or {"(every rule)"}
        named = sorted(rules & DESTRUCTIVE_RULES) or (["every rule"] if rules == {"(every rule)"} else [])
        if named:
            line = f.sql.count("\n", 0, match.start()) + 1
            found.append(
                Finding(
                    f"db/{f.name}",
                    line,
                    "squawk-ignore",
                    f"squawk-ignore may not silence {', '.join(named)}: destructive changes need the first-line"
                    " `-- opsdb:destructive <reason>` marker",
                )
            )
    return found


def findings(root: Path, files: list[SqlFile] | None = None) -> list[Finding]:
    """Every finding of the new versioned files (or of ``files``), accepted ones marked as such."""
    todo = new_migrations(root) if files is None else files
    by_name = {f"db/{f.name}": f for f in todo}
    raw = _run_squawk(root, [f for f in todo if not f.no_transaction], in_transaction=True) + _run_squawk(
        root, [f for f in todo if f.no_transaction], in_transaction=False
    )
    result: list[Finding] = []
    for v in raw:
        result.append(Finding(str(v["file"]), int(str(v["line"])) + 1, str(v["rule_name"]), str(v["message"])))
    for f in todo:
        result += _project_rules(f) + _ignored_destructive(f)
    judged = []
    for finding in result:
        reason = by_name[finding.file].destructive_reason
        if finding.rule in DESTRUCTIVE_RULES and reason:
            finding = Finding(finding.file, finding.line, finding.rule, finding.message, accepted_by=reason)
        judged.append(finding)
    return sorted(judged, key=lambda x: (x.file, x.line, x.rule))


def accept(root: Path) -> list[str]:
    """Record every new versioned file as landed; refuses while one has an unaccepted finding."""
    todo = new_migrations(root)
    failing = [f for f in findings(root, todo) if not f.accepted_by]
    if failing:
        raise RuntimeError(f"cannot accept: {len(failing)} squawk finding(s), first: {failing[0]}")
    if not todo:
        return []
    path = root / CONFIG
    text = path.read_text()
    closing = text.rindex("]")
    if "excluded_paths" not in text[:closing]:
        raise RuntimeError(f"{CONFIG} has no excluded_paths list to append to")
    added = "".join(f'    "db/{f.name}",\n' for f in todo)
    path.write_text(text[:closing] + added + text[closing:])
    return [f"db/{f.name}" for f in todo]
