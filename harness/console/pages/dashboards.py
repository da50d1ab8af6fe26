"""Dashboards: calls, SMS, messages and errors per day, for one workspace or all.

The page holds the form and empty chart frames; console.js fetches the series
from /dashboards/data (JSON), counted by ``platform_daily_metrics``, and draws
them with uPlot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.console.app import console, render
from harness.console.pages.common import uuid_or_none

RANGES = (7, 30, 90)
SERIES = ("calls", "sms_inbound", "sms_outbound", "messages_inbound", "messages_outbound", "errors")


def _params(request: Request) -> tuple[str | None, int]:
    days = int(request.query_params.get("days") or 30) if (request.query_params.get("days") or "30").isdigit() else 30
    return uuid_or_none(request.query_params.get("workspace")), days if days in RANGES else 30


def dashboards(request: Request) -> Response:
    workspace, days = _params(request)
    return render(request, "dashboards.html", workspace=workspace or "", days=days, ranges=RANGES)


def data(request: Request) -> Response:
    workspace, days = _params(request)
    to_day = datetime.now(UTC).date()  # the days are UTC days
    from_day = to_day - timedelta(days=days - 1)
    # Counts only, for one workspace or all, exact at any moment (the dashboard rollup plus what is not folded
    # yet): staff may not read SMS or message rows, so the views would show the admin zeros for them.
    args: dict[str, Any] = {"from_day": str(from_day), "to_day": str(to_day), "workspace_id": workspace}
    rows: list[dict[str, Any]] = console(request).db.call("platform_daily_metrics", args) or []
    by_day = {str(r["day"]): r for r in rows}
    days_axis = [from_day + timedelta(days=i) for i in range(days)]
    body = {
        "days": [d.isoformat() for d in days_axis],
        **{s: [int(by_day.get(d.isoformat(), {}).get(s) or 0) for d in days_axis] for s in SERIES},
    }
    return JSONResponse(body)


ROUTES = [Route("/dashboards", dashboards), Route("/dashboards/data", data)]
