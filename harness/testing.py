"""The types of the pytest plugin's fixtures, for annotating tests that use them.

``opsdb_db`` is a ``psycopg.Connection``, ``opsdb_db_url`` and
``opsdb_empty_database_url`` are ``str``, ``opsdb_factories`` is a
:class:`harness.factories.Factories`; Connect and Rpc below are the plugin's own.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict, Unpack

import psycopg

from harness.rpc import Jwt, RpcResponse, call


class Connect(Protocol):
    """``opsdb_connect(**kwargs)``: one more connection to the test database (autocommit unless told)."""

    def __call__(self, **kwargs: Any) -> psycopg.Connection: ...


class Request(TypedDict, total=False):
    """A request's options, as :func:`harness.rpc.call` takes them: ``as_`` (default service_role), ``headers``."""

    as_: Jwt | str
    headers: dict[str, str] | None


class Rpc:
    """``opsdb_rpc(name, args, as_=...)``: one PostgREST request; see :mod:`harness.rpc`."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.last: RpcResponse | None = None

    def __call__(self, name: str, args: dict[str, Any] | None = None, **request: Unpack[Request]) -> Any:
        return self.response(name, args, **request).data

    def response(self, name: str, args: dict[str, Any] | None = None, **request: Unpack[Request]) -> RpcResponse:
        """Like calling, but returns the whole response (status, headers)."""
        self.last = call(self.conn, name, args, **request)
        return self.last
