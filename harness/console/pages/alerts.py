"""Alerts: keyset-paged by state; acknowledge and resolve with a note."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.console import keyset
from harness.console.app import console, render
from harness.console.pages.common import action, text

OPEN = "a.resolved_at is null"
STATES = {
    "open": OPEN,
    "unacknowledged": "a.resolved_at is null and a.acknowledged_at is null",
    "resolved": "a.resolved_at is not null",
    "all": "true",
}
# A database whose alerts have no resolution yet (migrated before it): open means unacknowledged.
LEGACY = {"open": "a.acknowledged_at is null", "unacknowledged": "a.acknowledged_at is null",
          "resolved": "a.acknowledged_at is not null", "all": "true"}


def state_filter(request: Request, state: str) -> str:
    states = STATES if console(request).features.alert_resolution else LEGACY
    return states.get(state, states["open"])


def alerts(request: Request) -> Response:
    state = request.query_params.get("state", "open")
    where = state_filter(request, state)
    after = keyset.decode(request.query_params.get("after"), 2)
    with console(request).db.read("/alerts") as cur:
        rows = cur.execute(
            f"""
            select a.* from public.alerts as a
            where {where} and (%(t)s::timestamptz is null or (a.created_at, a.id) < (%(t)s::timestamptz, %(id)s::bigint))
            order by a.created_at desc, a.id desc
            limit %(n)s
            """,
            {"t": after[0] if after else None, "id": after[1] if after else None, "n": keyset.PAGE_SIZE + 1},
        ).fetchall()
    shown, cursor = keyset.page(rows, keyset.PAGE_SIZE, "created_at", "id")
    return render(request, "alerts.html", alerts=shown, cursor=cursor, state=state, states=list(STATES))


def _with_note(request: Request, form: FormData) -> dict[str, Any]:
    return {"alert_id": int(request.path_params["alert_id"]), "note": text(form, "note") or None}


acknowledge = action(
    "acknowledge_alert", _with_note, lambda a: f"alert {a['alert_id']} acknowledged", lambda _: "/alerts"
)
resolve = action("resolve_alert", _with_note, lambda a: f"alert {a['alert_id']} resolved", lambda _: "/alerts")


ROUTES = [
    Route("/alerts", alerts),
    Route("/alerts/{alert_id:int}/acknowledge", acknowledge, methods=["POST"]),
    Route("/alerts/{alert_id:int}/resolve", resolve, methods=["POST"]),
]
