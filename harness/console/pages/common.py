"""What the pages share: running an action as the admin and reporting its outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from harness.console.app import back, checked_form, console, flash, rpc_error_text
from harness.rpc import RpcError

Arguments = Callable[[Request, FormData], dict[str, Any]]


async def act(request: Request, name: str, args: dict[str, Any], done: str) -> Any:
    """Call ``name`` as the admin; flash ``done`` (formatted with the result) or the error. None on error."""
    try:
        result = await run_in_threadpool(console(request).db.call, name, args)
    except RpcError as err:
        flash(request, "error", f"{name}: {rpc_error_text(err)}")
        return None
    flash(request, "ok", done.format(result=result) if isinstance(result, dict) else done)
    return result


def action(
    name: str, arguments: Arguments, done: Callable[[dict[str, Any]], str], default: Callable[[Request], str]
) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint: the checked form's ``arguments`` to ``name`` as the admin, its outcome
    flashed (``done`` of the arguments, formatted with the result), then back to the page."""

    async def endpoint(request: Request) -> Response:
        form = await checked_form(request)
        args = arguments(request, form)
        await act(request, name, args, done(args))
        return back(request, form, default(request))

    return endpoint


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def uuid_or_none(value: str | None) -> str | None:
    try:
        return str(UUID(value)) if value else None
    except ValueError:
        return None
