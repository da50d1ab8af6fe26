"""Webhooks: the filtered, keyset-paged list; a delivery's masked detail with its
attempts, error and history; replay one with a reason; bulk replay after a dry run."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.console import keyset
from harness.console.app import back, checked_form, console, flash, render, rpc_error_text
from harness.console.pages.common import act, action, text, uuid_or_none
from harness.rpc import RpcError

PROVIDERS = ["twilio", "meta", "paymob", "standard"]
STATUSES = ["received", "queued", "processed", "duplicate", "unknown_phone", "failed", "dead_letter", "rejected"]
REPLAYABLE = ["dead_letter", "failed", "unknown_phone", "processed", "queued"]


def _utc(value: str) -> str | None:
    """A datetime-local field (no zone) read as UTC."""
    return f"{value}Z" if value and "Z" not in value and "+" not in value else (value or None)


def _filters(source: Any) -> dict[str, str]:
    return {k: (source.get(k) or "").strip() for k in ("provider", "status", "workspace", "from", "to")}


def webhooks(request: Request) -> Response:
    f = _filters(request.query_params)
    after = keyset.decode(request.query_params.get("after"), 2)
    args: dict[str, Any] = {
        "provider": f["provider"] if f["provider"] in PROVIDERS else None,
        "status": f["status"] if f["status"] in STATUSES else None,
        "workspace_id": uuid_or_none(f["workspace"]),
        "received_after": _utc(f["from"]),
        "received_before": _utc(f["to"]),
        "before_received_at": after[0] if after else None,
        "before_id": after[1] if after else None,
        "max_count": keyset.PAGE_SIZE,
    }
    error = None
    shown: list[dict[str, Any]] = []
    cursor = None
    try:
        listed = console(request).db.call("list_webhooks", {k: v for k, v in args.items() if v is not None})
        shown = listed["webhooks"]
        if listed["next"]:
            cursor = keyset.encode(listed["next"]["before_received_at"], listed["next"]["before_id"])
    except RpcError as err:
        error = rpc_error_text(err)
    return render(
        request, "webhooks.html", rows=shown, cursor=cursor, f=f, error=error,
        providers=PROVIDERS, statuses=STATUSES, replayable=REPLAYABLE,
    )


def delivery(request: Request) -> Response:
    webhook_id = int(request.path_params["webhook_id"])
    try:
        detail = console(request).db.call("webhook_delivery", {"webhook_id": webhook_id})
    except RpcError as err:
        return render(request, "error.html", status_code=err.status, message=rpc_error_text(err))
    return render(request, "webhook.html", d=detail)


replay = action(
    "replay_webhook",
    lambda request, form: {"webhook_id": int(request.path_params["webhook_id"]), "reason": text(form, "reason")},
    lambda a: f"webhook {a['webhook_id']} replayed: {{result[status]}}",
    lambda request: f"/webhooks/{request.path_params['webhook_id']}",
)


def _bulk_args(form: FormData) -> dict[str, Any]:
    args: dict[str, Any] = {"status": text(form, "status") or "dead_letter"}
    if text(form, "provider"):
        args["provider"] = text(form, "provider")
    if text(form, "from"):
        args["received_after"] = _utc(text(form, "from"))
    if text(form, "to"):
        args["received_before"] = _utc(text(form, "to"))
    try:
        args["max_count"] = int(text(form, "max_count") or 500)
    except ValueError:
        args["max_count"] = 0  # refused by the function with invalid_max_count
    return args


async def bulk_preview(request: Request) -> Response:
    """Step 1 of a bulk replay: the dry-run count, and the confirmation form for exactly that."""
    form = await checked_form(request)
    args = _bulk_args(form)
    try:
        preview = await run_in_threadpool(console(request).db.call, "preview_replay_webhooks", args)
    except RpcError as err:
        return render(request, "_bulk_preview.html", error=rpc_error_text(err), args=args, preview=None)
    return render(request, "_bulk_preview.html", error=None, args=args, preview=preview)


async def bulk_replay(request: Request) -> Response:
    """Step 2: replay, only if the count confirmed is still what a dry run gives now."""
    form = await checked_form(request)
    args = _bulk_args(form)
    db = console(request).db
    try:
        preview = await run_in_threadpool(db.call, "preview_replay_webhooks", args)
    except RpcError as err:
        flash(request, "error", f"preview_replay_webhooks: {rpc_error_text(err)}")
        return back(request, form, "/webhooks")
    if text(form, "confirm") != str(preview["would_replay"]):
        flash(request, "error", f"not replayed: the dry run now gives {preview['would_replay']} deliveries, "
                                f"not the {text(form, 'confirm') or 'unconfirmed'} confirmed; preview again")
        return back(request, form, "/webhooks")
    await act(request, "replay_webhooks", {**args, "reason": text(form, "reason")},
              "bulk replay: {result[replayed]} replayed, {result[succeeded]} succeeded")
    return back(request, form, "/webhooks")


ROUTES = [
    Route("/webhooks", webhooks),
    Route("/webhooks/{webhook_id:int}", delivery),
    Route("/webhooks/{webhook_id:int}/replay", replay, methods=["POST"]),
    Route("/webhooks/bulk/preview", bulk_preview, methods=["POST"]),
    Route("/webhooks/bulk/replay", bulk_replay, methods=["POST"]),
]
