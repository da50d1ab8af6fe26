"""Reconciliation: the latest runs (keyset-paged) and a run's mismatches."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.console import keyset
from harness.console.app import console, render


def runs(request: Request) -> Response:
    after = keyset.decode(request.query_params.get("after"), 1)
    with console(request).db.read("/reconciliation") as cur:
        rows = cur.execute(
            "select r.* from public.reconciliation_runs as r where (%s::bigint is null or r.id < %s::bigint)"
            " order by r.id desc limit %s",
            (after[0] if after else None, after[0] if after else None, keyset.PAGE_SIZE + 1),
        ).fetchall()
    shown, cursor = keyset.page(rows, keyset.PAGE_SIZE, "id")
    return render(request, "reconciliation.html", runs=shown, cursor=cursor)


def run(request: Request) -> Response:
    run_id = int(request.path_params["run_id"])
    after = keyset.decode(request.query_params.get("after"), 4)
    with console(request).db.read("/reconciliation") as cur:
        header = cur.execute("select r.* from public.reconciliation_runs as r where r.id = %s", (run_id,)).fetchone()
        if header is None:
            return render(request, "error.html", status_code=404, message=f"no reconciliation run {run_id}")
        items = cur.execute(
            """
            select i.* from public.reconciliation_items as i
            where i.run_id = %(run)s
                and (%(w)s::uuid is null
                     or (i.workspace_id, i.metric, i.usage_date) > (%(w)s::uuid, %(m)s::text, %(d)s::date))
            order by i.workspace_id, i.metric, i.usage_date
            limit %(n)s
            """,
            {
                "run": run_id,
                "w": after[1] if after else None,
                "m": after[2] if after else None,
                "d": after[3] if after else None,
                "n": keyset.PAGE_SIZE + 1,
            },
        ).fetchall()
    for item in items:
        item["run"] = run_id
    shown, cursor = keyset.page(items, keyset.PAGE_SIZE, "run", "workspace_id", "metric", "usage_date")
    return render(request, "reconciliation_run.html", run=header, items=shown, cursor=cursor)


ROUTES = [Route("/reconciliation", runs), Route("/reconciliation/{run_id:int}", run)]
