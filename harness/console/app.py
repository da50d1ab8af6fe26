"""The Starlette app: middleware (host, session, headers), sign-in, and the pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.console import security
from harness.console.db import AdminDb, NotAdmin
from harness.rpc import RpcError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


@dataclass(frozen=True)
class Features:
    """Parts of the schema that a database migrated by an older opsdb may not have yet."""

    monitoring_signals: bool
    alert_resolution: bool

    @classmethod
    def of(cls, db: AdminDb) -> Features:
        return cls(
            monitoring_signals=db.has_function("public.monitoring_signals()"),
            alert_resolution=db.has_column("public.alerts", "resolved_at"),
        )


@dataclass
class Console:
    """What every request needs: the admin's database access, the sign-in gate, the schema's features."""

    db: AdminDb
    gate: security.Gate
    port: int
    features: Features


def console(request: Request) -> Console:
    return request.app.state.console


def session(request: Request) -> security.Session:
    return request.scope["console_session"]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page or fragment, with the session's CSRF token, the admin and flashed messages."""
    s: security.Session | None = request.scope.get("console_session")
    flash = list(s.flash) if s else []
    if s:
        s.flash.clear()
    return templates.TemplateResponse(
        request,
        template,
        {
            "csrf": s.csrf if s else "",
            "admin": console(request).db.admin.email,
            "flash": flash,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token (field ``csrf`` or header ``X-CSRF-Token``) is right."""
    form = await request.form()
    offered = request.headers.get("x-csrf-token") or form.get("csrf")
    if not security.csrf_ok(session(request), offered if isinstance(offered, str) else None):
        raise HTTPException(403, "forged or missing CSRF token")
    return form


def flash(request: Request, kind: str, text: str) -> None:
    session(request).flash.append((kind, text))


def back(request: Request, form: FormData, default: str = "/") -> RedirectResponse:
    """303 to the page named by the form's ``next`` (a local path only), else ``default``."""
    target = form.get("next")
    if not (isinstance(target, str) and target.startswith("/") and not target.startswith("//")):
        target = default
    return RedirectResponse(target, status_code=303)


def rpc_error_text(err: RpcError) -> str:
    return f"{err.status} {err.message}" + (f": {err.detail}" if err.detail else "") + (f" ({err.hint})" if err.hint else "")


# --- sign-in -----------------------------------------------------------------------------


async def login(request: Request) -> Response:
    new = console(request).gate.exchange(request.query_params.get("token"))
    if new is None:
        return render(request, "signed_out.html", status_code=401, reason="This sign-in link is wrong or already used.")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(security.COOKIE, new.id, httponly=True, samesite="strict", path="/")
    return response


async def logout(request: Request) -> Response:
    await checked_form(request)
    console(request).gate.end(session(request).id)
    response = render(request, "signed_out.html", reason="Signed out.")
    response.delete_cookie(security.COOKIE, path="/")
    return response


# --- middleware --------------------------------------------------------------------------


class Guard:
    """Pure ASGI middleware: right Host only, a live session for everything but
    sign-in and static files, and the security headers on every response."""

    OPEN = ("/login", "/static/")

    def __init__(self, app: ASGIApp, *, gate: security.Gate, port: int) -> None:
        self.app = app
        self.gate = gate
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in security.HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in security.HEADERS.items()]
                message["headers"] = headers
            await send(message)

        request = Request(scope)
        if request.headers.get("host") not in self.hosts:
            # A page on another origin resolving its name to 127.0.0.1 (DNS rebinding) is refused.
            await HTMLResponse("wrong Host header", status_code=400)(scope, receive, send_with_headers)
            return
        path: str = scope["path"]
        if not path.startswith(self.OPEN):
            live = self.gate.session(request.cookies.get(security.COOKIE))
            if live is None:
                page = (
                    "<!doctype html><title>opsdb console: sign in</title>"
                    "<p>Not signed in, or the session expired. Open the URL that <code>opsdb console</code> "
                    "printed (start it again for a new one).</p>"
                )
                await HTMLResponse(page, status_code=401)(scope, receive, send_with_headers)
                return
            scope["console_session"] = live
        await self.app(scope, receive, send_with_headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(request, "error.html", status_code=exc.status_code, message=exc.detail)


async def _not_admin(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", status_code=403, message=str(exc))


def create_app(db: AdminDb, gate: security.Gate, port: int) -> Starlette:
    from harness.console.pages import ROUTES

    routes: list[Route | Mount] = [
        Route("/login", login),
        Route("/logout", logout, methods=["POST"]),
        *ROUTES,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: _http_error,
        NotAdmin: _not_admin,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.console = Console(db, gate, port, Features.of(db))
    app.add_middleware(Guard, gate=gate, port=port)
    return app
