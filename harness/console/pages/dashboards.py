"""Dashboards: calls, SMS, messages and errors per day, for one workspace or all.

The page holds the form and empty chart frames; console.js fetches the series
from /dashboards/data (JSON) and draws them with uPlot.
"""

from __future__ import annotations

from datetime import date, timedelta
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
    to_day = date.today()
    from_day = to_day - timedelta(days=days - 1)
    rows: list[dict[str, Any]]
    if workspace:
        rows = console(request).db.call(
            "dashboard_metrics", {"workspace_id": workspace, "from_day": str(from_day), "to_day": str(to_day)}
        ) or []
    else:
        with console(request).db.read("/dashboards") as cur:
            rows = cur.execute(
                f"""
                select m.day::text as day, {", ".join(f"sum(m.{s})::bigint as {s}" for s in SERIES)}
                from public.dashboard_daily_metrics as m
                where m.day between %s and %s
                group by m.day
                """,
                (from_day, to_day),
            ).fetchall()
    by_day = {str(r["day"]): r for r in rows}
    days_axis = [from_day + timedelta(days=i) for i in range(days)]
    body = {
        "days": [d.isoformat() for d in days_axis],
        **{s: [int(by_day.get(d.isoformat(), {}).get(s) or 0) for d in days_axis] for s in SERIES},
    }
    return JSONResponse(body)


ROUTES = [Route("/dashboards", dashboards), Route("/dashboards/data", data)]
