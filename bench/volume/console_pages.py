"""Every page of ``opsdb console``, rendered end to end on the loaded history.

Each operation is one GET of a console page through the real Starlette app, in
process (Starlette's TestClient): the Host check and the session of the
middleware, the routing, the queries as the platform admin the console acts as
(role ``authenticated`` with the admin's claims, through RLS, the views and the
functions), and the Jinja render. The app is built once per loaded database and
signed in with its one-time token, as a browser would; every response must be a
200. The goal is under 300 ms a page at 1x (5M usage events, 2M webhook rows).

The pages with an id or a cursor read a deep one: workspace 1's page, a
delivery half way back, a keyset page half way back through the history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.testclient import TestClient

from bench.volume.operations import Context, Result, operation, workspace
from harness.console import keyset
from harness.console.app import create_app
from harness.console.db import AdminDb, find_admin
from harness.console.security import Gate

ADMIN_EMAIL = "admin@volume.test"  # the platform admin run.py adds to every loaded database
PORT = 8765
KEPT = "console"


@dataclass
class Ids:
    """What the deep pages point at, found once per database (as the superuser, not timed)."""

    workspace: str
    delivery: int
    run: int  # a reconciliation run
    webhooks_middle: str  # keyset cursors half way back
    dead_letters_middle: str
    alerts_middle: str
    ledger_middle: str
    window_from: str  # one day a month back, as the filter form sends it (datetime-local, UTC)
    window_to: str

    @property
    def dead_letters_page(self) -> str:
        return f"/webhooks?status=dead_letter&after={self.dead_letters_middle}"

    @property
    def window_page(self) -> str:
        return f"/webhooks?provider=meta&from={self.window_from}&to={self.window_to}"

    @property
    def ledger_page(self) -> str:
        return f"/workspaces/{self.workspace}/ledger?after={self.ledger_middle}"

    @property
    def workspace_dashboard(self) -> str:
        return f"/dashboards/data?workspace={self.workspace}&days=90"


@dataclass
class Console:
    client: TestClient
    db: AdminDb
    ids: Ids

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.db.close()


def _one(ctx: Context, query: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    row = ctx.conn.execute(query.encode(), params).fetchone()
    assert row is not None, query
    return tuple(row)


def _middle_delivery(ctx: Context, status: str | None) -> tuple[str, int]:
    """A delivery (of ``status``) half way back by id, which is time order here: received_at as text and id."""
    top = _one(ctx, "select max(id) from public.webhook_queue")[0]
    return _one(
        ctx,
        "select received_at::text, id from public.webhook_queue"
        " where id >= %s and (%s::text is null or status = %s::text) order by id limit 1",
        (top // 2, status, status),
    )


def _ids(ctx: Context) -> Ids:
    ws = workspace(1)
    # The reconciliation pages list runs: yesterday's, if no operation has run one yet.
    if _one(ctx, "select count(*) from public.reconciliation_runs")[0] == 0:
        ctx.conn.execute(
            "select public.run_reconciliation((now() at time zone 'UTC')::date - 1, (now() at time zone 'UTC')::date)"
        )
    at, id_ = _middle_delivery(ctx, None)
    dead_at, dead_id = _middle_delivery(ctx, "dead_letter")
    alerts = _one(ctx, "select count(*) from public.alerts")[0]
    alert = _one(
        ctx,
        "select created_at::text, id from public.alerts order by created_at desc, id desc offset %s limit 1",
        (alerts // 2,),
    )
    entries = _one(ctx, "select count(*) from public.wallet_ledger where workspace_id = %s", (ws,))[0]
    ledger = _one(
        ctx, "select id from public.wallet_ledger where workspace_id = %s order by id desc offset %s limit 1",
        (ws, entries // 2),
    )
    run_id = _one(ctx, "select max(id) from public.reconciliation_runs")[0]
    window = _one(
        ctx,
        "select to_char(d, 'YYYY-MM-DD\"T\"HH24:MI'), to_char(d + interval '1 day', 'YYYY-MM-DD\"T\"HH24:MI')"
        " from (select date_trunc('day', now() at time zone 'UTC') - interval '30 days' as d) as x",
    )
    return Ids(
        workspace=ws,
        delivery=dead_id,
        run=run_id,
        webhooks_middle=keyset.encode(at, id_),
        dead_letters_middle=keyset.encode(dead_at, dead_id),
        alerts_middle=keyset.encode(*alert),
        ledger_middle=keyset.encode(ledger[0]),
        window_from=window[0],
        window_to=window[1],
    )


def console_of(ctx: Context) -> Console:
    """The console app on this database as the loaded platform admin, signed in; built once per database."""
    kept = ctx.kept.get(KEPT)
    if isinstance(kept, Console):
        return kept
    ids = _ids(ctx)
    gate = Gate()
    db = AdminDb(ctx.url, find_admin(ctx.url, ADMIN_EMAIL), max_size=2)
    client = TestClient(create_app(db, gate, PORT), base_url=f"http://127.0.0.1:{PORT}")
    client.__enter__()
    console = Console(client, db, ids)
    ctx.kept[KEPT] = console
    signed_in = client.get(f"/login?token={gate.token}", follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text[:300]
    return console


def _get(client: TestClient, path: str) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise AssertionError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return elapsed, f"{len(response.content) / 1024:.0f} KB"


def _page(path: Callable[[Ids], str]) -> Callable[[Context], Result]:
    def run(ctx: Context) -> Result:
        console = console_of(ctx)
        url = path(console.ids)
        return ctx.measure(f"GET {url}", lambda: _get(console.client, url))

    return run


# (operation, what it is, the path). The path of a page with filters is what its form sends.
PAGES: list[tuple[str, str, Callable[[Ids], str]]] = [
    ("console_overview", "Overview (open alerts, monitoring signals, webhook backlog)", lambda i: "/"),
    ("console_overview_live", "Overview's live fragment (htmx polls it)", lambda i: "/overview/live"),
    ("console_alerts", "Alerts, open", lambda i: "/alerts"),
    ("console_alerts_deep", "Alerts, all, half way back", lambda i: f"/alerts?state=all&after={i.alerts_middle}"),
    ("console_webhooks", "Webhooks, no filter (the newest 50)", lambda i: "/webhooks"),
    ("console_webhooks_failed", "Webhooks, status failed", lambda i: "/webhooks?status=failed"),
    ("console_webhooks_deep", "Webhooks, a page half way back", lambda i: f"/webhooks?after={i.webhooks_middle}"),
    ("console_webhooks_dead_deep", "Webhooks, dead letters, a page half way back", lambda i: i.dead_letters_page),
    ("console_webhooks_window", "Webhooks, provider meta, one day a month back", lambda i: i.window_page),
    ("console_webhooks_workspace", "Webhooks of one workspace", lambda i: f"/webhooks?workspace={i.workspace}"),
    ("console_webhook_detail", "a delivery's detail (masked), half way back", lambda i: f"/webhooks/{i.delivery}"),
    ("console_workspaces", "Workspaces, the first page", lambda i: "/workspaces"),
    ("console_workspaces_search", "Workspaces, a name search", lambda i: "/workspaces?q=volume+5"),
    ("console_workspace", "a workspace's page", lambda i: f"/workspaces/{i.workspace}"),
    ("console_workspace_ledger_deep", "a workspace's ledger, a page half way back", lambda i: i.ledger_page),
    ("console_jobs", "Jobs (each job's last runs)", lambda i: "/jobs"),
    ("console_reconciliation", "Reconciliation runs", lambda i: "/reconciliation"),
    ("console_reconciliation_run", "a reconciliation run's mismatches", lambda i: f"/reconciliation/{i.run}"),
    ("console_dashboards", "Dashboards (the page)", lambda i: "/dashboards"),
    ("console_dashboards_all", "Dashboards' data, all workspaces, 30 days", lambda i: "/dashboards/data?days=30"),
    ("console_dashboards_all_90", "Dashboards' data, all workspaces, 90 days", lambda i: "/dashboards/data?days=90"),
    ("console_dashboards_workspace", "Dashboards' data, one workspace, 90 days", lambda i: i.workspace_dashboard),
    ("console_readiness", "Readiness (the page)", lambda i: "/readiness"),
    ("console_readiness_report", "Readiness' report (the opsdb audit, loaded by htmx)", lambda i: "/readiness/report"),
]

for _name, _description, _path in PAGES:
    operation(_name, f"console: {_description}")(_page(_path))
