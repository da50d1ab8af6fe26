"""``opsdb audit``: the security audit and readiness report of a live database.

Runs every check of :mod:`harness.audit.security` (the project's rules) and
:mod:`harness.audit.readiness` (the live state a launch depends on) against one
database and renders a Markdown report. A check that cannot run (a missing
schema, no privilege) is reported as ERROR instead of stopping the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg

from harness.audit.check import Check, Result
from harness.audit.readiness import READINESS_CHECKS
from harness.audit.security import SECURITY_CHECKS

SECTIONS: dict[str, list[Check]] = {"Security": SECURITY_CHECKS, "Readiness": READINESS_CHECKS}


@dataclass(frozen=True)
class Report:
    database: str
    server: str
    at: datetime
    sections: dict[str, list[Result]]

    @property
    def results(self) -> list[Result]:
        return [r for results in self.sections.values() for r in results]

    @property
    def failed(self) -> list[Result]:
        """What makes the audit fail: broken rules, and checks that could not run."""
        return [r for r in self.results if r.verdict in ("FAIL", "ERROR")]

    @property
    def verdict(self) -> str:
        if self.failed:
            return "NOT READY"
        if any(r.verdict == "WARN" for r in self.results):
            return "READY WITH WARNINGS"
        return "READY"


def _run(conn: psycopg.Connection, check: Check) -> Result:
    # Each check in its own transaction: one that errors cannot abort the next.
    try:
        with conn.transaction():
            return Result(check, check.find(conn))
    except psycopg.Error as err:
        return Result(check, [], error=" ".join(str(err).split()))


def run_audit(conn: psycopg.Connection) -> Report:
    """Every check against ``conn``'s database (the connection must be in autocommit mode)."""
    info = conn.execute("select current_database(), current_setting('server_version')").fetchone()
    assert info is not None
    return Report(
        database=f"{conn.info.host}:{conn.info.port}/{info[0]}",
        server=f"PostgreSQL {info[1]}",
        at=datetime.now(timezone.utc),
        sections={title: [_run(conn, c) for c in checks] for title, checks in SECTIONS.items()},
    )


def render(report: Report) -> str:
    lines = [
        "# opsdb security audit and readiness report",
        "",
        f"{report.database}, {report.server}, {report.at:%Y-%m-%d %H:%M} UTC: **{report.verdict}**",
    ]
    for title, results in report.sections.items():
        passed = sum(r.verdict == "PASS" for r in results)
        lines += ["", f"## {title}: {passed} of {len(results)} pass", ""]
        for r in results:
            lines.append(f"- {r.verdict} `{r.check.name}`: {r.check.rule}")
            lines += [f"  - {line}" for line in r.findings]
            if r.error:
                lines.append(f"  - the check could not run: {r.error}")
    return "\n".join(lines) + "\n"
