"""``opsdb audit`` for CI and deployments: the JSON report, the exit codes, known-good marking.

Exit codes of ``opsdb audit`` (both formats):

* 0: READY or READY WITH WARNINGS (no check failed);
* 1: NOT READY (a ``fail`` rule is broken, or a check could not run);
* 2: bad usage (an unknown option or format);
* 3: the audit could not run at all (no connection to the database).

A passing audit marks the last deployment known-good when that deployment
succeeded (see :mod:`harness.deploy.deployments`).
"""

from __future__ import annotations

import json
import sys

import psycopg

from harness.deploy import deployments
from harness.audit import Report, run_audit

EXIT_READY = 0
EXIT_NOT_READY = 1
EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3


class CannotRun(RuntimeError):
    """The audit could not start: no connection to the database."""


def audit_and_mark(database_url: str) -> tuple[Report, int | None]:
    """Run the audit; when it passes, mark the last deployment known-good and return its id."""
    try:
        conn = psycopg.connect(database_url, autocommit=True)
    except psycopg.OperationalError as err:
        raise CannotRun("cannot connect: " + " ".join(str(err).split())) from err
    with conn:
        report = run_audit(conn)
        if report.failed:
            return report, None
        from harness.migrate import _who

        try:
            return report, deployments.mark_known_good(conn, _who(conn))
        except psycopg.Error as err:  # a read-only auditor: the report stands, the mark is skipped
            print(f"opsdb audit: could not mark the deployment known-good: {err.diag.message_primary}", file=sys.stderr)
            return report, None


def to_json(report: Report, known_good: int | None = None) -> str:
    """The report as one JSON document (stable keys; findings as lines)."""
    document = {
        "database": report.database,
        "server": report.server,
        "at": report.at.isoformat(),
        "verdict": report.verdict,
        "exit_code": EXIT_NOT_READY if report.failed else EXIT_READY,
        "failed": [r.check.name for r in report.failed],
        "known_good_deployment": known_good,
        "sections": [
            {
                "title": title,
                "checks": [
                    {
                        "name": r.check.name,
                        "rule": r.check.rule,
                        "severity": r.check.severity,
                        "verdict": r.verdict,
                        "findings": r.findings,
                        "error": r.error,
                    }
                    for r in results
                ],
            }
            for title, results in report.sections.items()
        ],
    }
    return json.dumps(document, indent=2) + "\n"
