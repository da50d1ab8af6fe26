"""The types of the pytest plugin's fixtures, for annotating tests that use them.

``opsdb_db`` is a ``psycopg.Connection``, ``opsdb_db_url`` and
``opsdb_empty_database_url`` are ``str``, ``opsdb_factories`` is a
:class:`harness.factories.Factories`; the two below are the plugin's own.
"""

from __future__ import annotations

from typing import Any, Protocol

import psycopg

from harness.rpc import SERVICE_ROLE, Jwt, RpcResponse, call


class Connect(Protocol):
    """``opsdb_connect(**kwargs)``: one more connection to the test database (autocommit unless told)."""

    def __call__(self, **kwargs: Any) -> psycopg.Connection: ...


class Rpc:
    """``opsdb_rpc(name, args, as_=...)``: one PostgREST request; see :mod:`harness.rpc`."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.last: RpcResponse | None = None

    def __call__(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        as_: Jwt | str = SERVICE_ROLE,
        headers: dict[str, str] | None = None,
    ) -> Any:
        return self.response(name, args, as_=as_, headers=headers).data

    def response(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        as_: Jwt | str = SERVICE_ROLE,
        headers: dict[str, str] | None = None,
    ) -> RpcResponse:
        """Like calling, but returns the whole response (status, headers)."""
        self.last = call(self.conn, name, args, as_=as_, headers=headers)
        return self.last
