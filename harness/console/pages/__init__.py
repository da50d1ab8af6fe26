"""The console's pages, one module each; ROUTES is all of them."""

from __future__ import annotations

from starlette.routing import Route

from harness.console.pages import (
    alerts,
    dashboards,
    jobs,
    overview,
    readiness,
    reconciliation,
    webhooks,
    workspaces,
)

ROUTES: list[Route] = [
    *overview.ROUTES,
    *alerts.ROUTES,
    *webhooks.ROUTES,
    *workspaces.ROUTES,
    *jobs.ROUTES,
    *reconciliation.ROUTES,
    *dashboards.ROUTES,
    *readiness.ROUTES,
]
