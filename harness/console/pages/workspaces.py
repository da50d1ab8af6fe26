"""Workspaces: search; a workspace's status and kill switch, plan, subscription and
payments, wallet and ledger, usage against limits, API keys, channels and connectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.console import keyset
from harness.console.app import console, render
from harness.console.pages.common import action, text, uuid_or_none


def search(request: Request) -> Response:
    q = (request.query_params.get("q") or "").strip()
    after = keyset.decode(request.query_params.get("after"), 2)
    exact = uuid_or_none(q)
    with console(request).db.read("/workspaces") as cur:
        rows = cur.execute(
            """
            select w.id, w.name, w.status, w.status_reason, w.plan_key, w.created_at
            from public.workspaces as w
            where (%(id)s::uuid is null or w.id = %(id)s::uuid)
                and (%(id)s::uuid is not null or %(q)s = '' or w.name ilike '%%' || %(q)s || '%%')
                and (%(name)s::text is null or (w.name, w.id) > (%(name)s::text, %(after_id)s::uuid))
            order by w.name, w.id
            limit %(n)s
            """,
            {
                "id": exact,
                "q": q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"),
                "name": after[0] if after else None,
                "after_id": after[1] if after else None,
                "n": keyset.PAGE_SIZE + 1,
            },
        ).fetchall()
    shown, cursor = keyset.page(rows, keyset.PAGE_SIZE, "name", "id")
    return render(request, "workspaces.html", rows=shown, cursor=cursor, q=q)


LEDGER_PAGE = 20


def _ledger(cur: Any, workspace_id: str, before_id: int | None) -> tuple[list[dict[str, Any]], str | None]:
    rows = cur.execute(
        """
        select l.id, l.kind, l.amount, l.balance_after, l.reason, l.actor_role, l.created_at
        from public.wallet_ledger as l
        where l.workspace_id = %s and (%s::bigint is null or l.id < %s::bigint)
        order by l.id desc
        limit %s
        """,
        (workspace_id, before_id, before_id, LEDGER_PAGE + 1),
    ).fetchall()
    return keyset.page(rows, LEDGER_PAGE, "id")


def workspace(request: Request) -> Response:
    ws_id = str(request.path_params["workspace_id"])
    with console(request).db.read("/workspaces") as cur:
        ws = cur.execute("select w.* from public.workspaces as w where w.id = %s", (ws_id,)).fetchone()
        if ws is None:
            return render(request, "error.html", status_code=404, message=f"no workspace {ws_id} (or not visible)")
        plan = cur.execute("select p.* from public.plans as p where p.key = %s", (ws["plan_key"],)).fetchone()
        subscriptions = cur.execute(
            "select s.* from public.subscriptions as s where s.workspace_id = %s order by s.created_at desc limit 5",
            (ws_id,),
        ).fetchall()
        payments = cur.execute(
            "select p.* from public.payments as p where p.workspace_id = %s order by p.created_at desc limit 10",
            (ws_id,),
        ).fetchall()
        wallet = cur.execute("select w.* from public.workspace_wallets as w where w.workspace_id = %s", (ws_id,)).fetchone()
        ledger, ledger_cursor = _ledger(cur, ws_id, None)
        usage = cur.execute(
            """
            select u.metric, u.used, u.soft_limit, u.hard_limit, u.limit_state, u.period_start, u.period_end
            from public.usage_limits as u
            where u.workspace_id = %s
                and u.period_start = (select max(x.period_start) from public.usage_limits as x where x.workspace_id = %s)
            order by u.metric
            """,
            (ws_id, ws_id),
        ).fetchall()
        keys = cur.execute(
            "select k.id, k.name, k.prefix, k.scopes, k.status, k.created_at, k.last_used_at, k.expires_at,"
            " k.revoked_at, k.revoked_reason from public.workspace_api_keys as k where k.workspace_id = %s"
            " order by k.status, k.created_at desc",
            (ws_id,),
        ).fetchall()
        channels = cur.execute(
            "select c.id, c.channel_type, c.external_id, c.is_active, a.nickname, a.phone_number"
            " from public.agent_channels as c left join public.agents as a on a.id = c.agent_id"
            " where c.workspace_id = %s order by c.channel_type, c.created_at",
            (ws_id,),
        ).fetchall()
        connectors = cur.execute(
            "select c.id, c.name, c.connector_type, c.is_active, c.last_synced_at from public.connectors as c"
            " where c.workspace_id = %s order by c.name",
            (ws_id,),
        ).fetchall()
    return render(
        request, "workspace.html", ws=ws, plan=plan, subscriptions=subscriptions, payments=payments,
        wallet=wallet, ledger=ledger, ledger_cursor=ledger_cursor, usage=usage, keys=keys,
        channels=channels, connectors=connectors,
    )


def ledger_page(request: Request) -> Response:
    """More ledger lines (htmx: appended below the ones shown)."""
    ws_id = str(request.path_params["workspace_id"])
    after = keyset.decode(request.query_params.get("after"), 1)
    with console(request).db.read("/workspaces") as cur:
        ledger, cursor = _ledger(cur, ws_id, int(after[0]) if after else None)
    return render(request, "_ledger_rows.html", ws={"id": ws_id}, ledger=ledger, ledger_cursor=cursor)


def _switch(kind: str) -> Callable[[Request, FormData], dict[str, Any]]:
    """The arguments of set_<kind>_active: the id from the path, the state and reason from the form."""
    return lambda request, form: {
        f"{kind}_id": str(request.path_params[f"{kind}_id"]),
        "is_active": text(form, "is_active") == "true",
        "reason": text(form, "reason"),
    }


set_status = action(
    "set_workspace_status",
    lambda request, form: {
        "workspace_id": str(request.path_params["workspace_id"]),
        "status": text(form, "status"),
        "reason": text(form, "reason"),
    },
    lambda _: "workspace is now {result[status]} (was {result[previous_status]})",
    lambda request: f"/workspaces/{request.path_params['workspace_id']}",
)
revoke_key = action(
    "revoke_api_key",
    lambda request, form: {"key_id": str(request.path_params["key_id"]), "reason": text(form, "reason") or None},
    lambda a: f"API key {a['key_id']} revoked",
    lambda _: "/workspaces",
)
set_channel = action(
    "set_channel_active",
    _switch("channel"),
    lambda a: f"channel {a['channel_id']} {'enabled' if a['is_active'] else 'disabled'}",
    lambda _: "/workspaces",
)
set_connector = action(
    "set_connector_active",
    _switch("connector"),
    lambda a: f"connector {a['connector_id']} {'enabled' if a['is_active'] else 'disabled'}",
    lambda _: "/workspaces",
)


ROUTES = [
    Route("/workspaces", search),
    Route("/workspaces/{workspace_id:uuid}", workspace),
    Route("/workspaces/{workspace_id:uuid}/ledger", ledger_page),
    Route("/workspaces/{workspace_id:uuid}/status", set_status, methods=["POST"]),
    Route("/keys/{key_id:uuid}/revoke", revoke_key, methods=["POST"]),
    Route("/channels/{channel_id:uuid}/active", set_channel, methods=["POST"]),
    Route("/connectors/{connector_id:uuid}/active", set_connector, methods=["POST"]),
]
