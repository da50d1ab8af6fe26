"""Overview: the open alerts and the monitoring signals, refreshed live (htmx polling)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.console.app import console, render
from harness.console.pages.alerts import state_filter

# One count per status, each answered by that status's partial index (webhook_queue_queued_idx,
# webhook_queue_status_received_idx); a single IN over all five matches neither and reads the table.
BACKLOG = "select b.* from (" + " union all ".join(
    f"""(select '{status}'::text as status, count(*) as n, min(q.received_at) as oldest
        from public.webhook_queue as q where q.status = '{status}' having count(*) > 0)"""
    for status in ("dead_letter", "failed", "queued", "rejected", "unknown_phone")
) + ") as b order by b.status"


def _live(request: Request) -> dict[str, Any]:
    c = console(request)
    with c.db.read("/") as cur:
        alerts = cur.execute(
            f"select a.* from public.alerts as a where {state_filter(request, 'open')}"
            " order by a.created_at desc, a.id desc limit 20"
        ).fetchall()
        signals = (
            cur.execute("select s.* from public.monitoring_signals() as s order by s.signal, s.scope").fetchall()
            if c.features.monitoring_signals
            else None
        )
        backlog = cur.execute(BACKLOG).fetchall()
    return {"alerts": alerts, "signals": signals, "backlog": backlog}


def overview(request: Request) -> Response:
    return render(request, "overview.html", **_live(request))


def overview_live(request: Request) -> Response:
    return render(request, "_overview_live.html", **_live(request))


ROUTES = [Route("/", overview), Route("/overview/live", overview_live)]
