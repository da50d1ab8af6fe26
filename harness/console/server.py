"""Serve the console with uvicorn on 127.0.0.1 and print the one-time sign-in URL."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn

from harness.console.app import create_app
from harness.console.db import AdminDb, find_admin
from harness.console.security import Gate

HOST = "127.0.0.1"  # never another interface: the console acts as a platform admin


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def serve(url: str, email: str, port: int | None, *, out: Callable[[str], None] = print) -> None:
    """Refuse anyone but a platform admin, then serve until interrupted."""
    admin = find_admin(url, email)  # raises NotAdmin: the console does not start
    port = port or free_port()
    gate = Gate()
    db = AdminDb(url, admin)
    try:
        app = create_app(db, gate, port)
        out(f"opsdb console for {admin.email} (platform admin); every action is audited as them")
        out(f"open: http://{HOST}:{port}/login?token={gate.token}")
        out("the link works once; the session it opens ends after 30 idle minutes or 12 hours")
        uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False, server_header=False)
    finally:
        db.close()
