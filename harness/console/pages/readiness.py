"""Readiness: the `opsdb audit` report of this database.

The one read that is not made as the admin: the report reads catalogs, pg_cron
and the migration history, which API roles cannot. It runs on the console's own
login in a read-only transaction, and is loaded after the page (htmx) because
it takes a moment.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.audit import Report, run_audit
from harness.console.app import console, render


def readiness(request: Request) -> Response:
    return render(request, "readiness.html")


def _report(request: Request) -> Report:
    with console(request).db.login_read_only() as conn:
        return run_audit(conn)


async def report(request: Request) -> Response:
    result = await run_in_threadpool(_report, request)
    return render(request, "_readiness_report.html", report=result)


ROUTES = [Route("/readiness", readiness), Route("/readiness/report", report)]
