"""Database access as the signed-in platform admin.

Every request opens one transaction on a pooled connection and becomes the
admin the way PostgREST does (:func:`harness.rpc.begin_request`): role
``authenticated`` with their JWT claims, so RLS, grants and the functions' own
checks decide what the console may read and do. Actions are
:func:`harness.rpc.call`, a PostgREST RPC request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from harness.rpc import Jwt, RpcError, begin_request, call, user


class NotAdmin(Exception):
    """The named user is not (or no longer) a platform admin."""


@dataclass(frozen=True)
class Admin:
    id: str
    email: str

    @property
    def jwt(self) -> Jwt:
        return user(self.id, self.email)


def find_admin(url: str, email: str) -> Admin:
    """The platform admin with this e-mail, or :class:`NotAdmin` saying why not.

    The user is looked up in ``auth.users`` with the console's own login (API
    roles cannot read it); whether they are a platform admin is asked as them,
    through ``private.is_admin()``, exactly as every function asks it.
    """
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute("select id::text from auth.users where lower(email) = lower(%s)", (email,)).fetchall()
        if not rows:
            raise NotAdmin(f"no user with e-mail {email} in auth.users")
        if len(rows) > 1:
            raise NotAdmin(f"{len(rows)} users have e-mail {email}; name one platform admin")
        admin = Admin(rows[0][0], email)
        with conn.transaction():
            begin_request(conn, admin.jwt, method="GET", path="/console")
            row = conn.execute("select private.is_admin()").fetchone()
        if not (row and row[0]):
            raise NotAdmin(f"{email} is not a platform admin (user_roles role 'admin')")
        return admin


class AdminDb:
    """Reads and calls as one platform admin, on a small pool of connections."""

    def __init__(self, url: str, admin: Admin, *, max_size: int = 4) -> None:
        self.url = url
        self.admin = admin
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "connect_timeout": 10, "application_name": "opsdb console"},
            open=True,
        )

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def read(self, path: str = "/") -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """One transaction as the admin; rows come back as dicts.

        It starts by asking ``private.is_admin()``: an admin whose role was
        revoked while the console runs is refused from the next request on.
        """
        with self.pool.connection() as conn:
            with conn.transaction():
                begin_request(conn, self.admin.jwt, method="GET", path=path)
                with conn.cursor(row_factory=dict_row) as cur:
                    row = cur.execute("select private.is_admin() as ok").fetchone()
                    if not (row and row["ok"]):
                        raise NotAdmin(f"{self.admin.email} is no longer a platform admin")
                    yield cur

    def call(self, name: str, args: dict[str, Any] | None = None) -> Any:
        """``POST /rpc/<name>`` as the admin; raises :class:`harness.rpc.RpcError`."""
        with self.pool.connection() as conn:
            return call(conn, name, args or {}, as_=self.admin.jwt).data

    def has_function(self, signature: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute("select to_regprocedure(%s) is not null", (signature,)).fetchone()
            return bool(row and row[0])

    def has_column(self, table: str, column: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(
                "select exists (select 1 from pg_attribute where attrelid = to_regclass(%s)"
                " and attname = %s and not attisdropped)",
                (table, column),
            ).fetchone()
            return bool(row and row[0])

    @contextmanager
    def login_read_only(self) -> Iterator[psycopg.Connection]:
        """A read-only connection as the console's own login (the readiness report only:
        it reads catalogs, pg_cron and the migration history, which API roles cannot)."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("set default_transaction_read_only = on")
            yield conn


__all__ = ["Admin", "AdminDb", "NotAdmin", "RpcError", "find_admin"]
