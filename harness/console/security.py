"""Sign-in, sessions, CSRF and the response headers.

* The URL the console prints carries a one-time token (as Jupyter's does). It is
  compared in constant time (:func:`hmac.compare_digest`) and, once exchanged,
  spent: the browser gets a session cookie instead and the token is useless.
* Sessions live in memory, die with the process, and expire after
  ``idle_minutes`` without a request or ``max_hours`` in all.
* Every session has its CSRF token. Every form carries it, htmx sends it as
  ``X-CSRF-Token``; a POST without the right one is refused (403). The cookie is
  also ``SameSite=Strict`` and ``HttpOnly``.
* Every response carries a Content-Security-Policy without inline script or
  style, and is never cached.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "opsdb_console"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    seen: float
    flash: list[tuple[str, str]] = field(default_factory=list)


class Gate:
    """The one-time sign-in token and the sessions it opened."""

    def __init__(self, *, idle_minutes: float = 30, max_hours: float = 12, token: str | None = None) -> None:
        self._token: str | None = token or secrets.token_urlsafe(32)
        self.idle = idle_minutes * 60
        self.lifetime = max_hours * 3600
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    @property
    def token(self) -> str | None:
        """The sign-in token while it is unspent (printed in the console's URL)."""
        return self._token

    def exchange(self, offered: str | None) -> Session | None:
        """A new session for the right token, which is then spent; None otherwise."""
        with self._lock:
            expected = self._token
            # Compare bytes of equal meaning in constant time, whatever was offered.
            ok = expected is not None and hmac.compare_digest((offered or "").encode(), expected.encode())
            if not ok:
                return None
            self._token = None
            now = time.monotonic()
            session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
            self._sessions[session.id] = session
            return session

    def session(self, session_id: str | None) -> Session | None:
        """The live session of this cookie, its idle clock restarted; None when unknown or expired."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            now = time.monotonic()
            if now - session.seen > self.idle or now - session.created > self.lifetime:
                del self._sessions[session_id]
                return None
            session.seen = now
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def age(self, session_id: str, seconds: float) -> None:
        """Move a session's clocks back (tests of expiry, without waiting)."""
        with self._lock:
            s = self._sessions[session_id]
            s.seen -= seconds
            s.created -= seconds


def csrf_ok(session: Session, offered: str | None) -> bool:
    return hmac.compare_digest((offered or "").encode(), session.csrf.encode())
