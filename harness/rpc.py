"""Call an RPC function the way PostgREST does for ``POST /rest/v1/rpc/<name>``.

One transaction per request: ``set local role`` to the JWT's role, the role's own
settings (statement_timeout, lock_timeout), the request settings PostgREST sets
(``request.jwt.claims``, ``request.headers``, ``request.method``, ``request.path``),
the call with named arguments, then
``response.headers``/``response.status`` read back before commit. Errors carry
the SQLSTATE and the HTTP status PostgREST would answer with.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from harness.rows import scalar


@dataclass(frozen=True)
class Jwt:
    """The claims of the JWT a request carries (Supabase's shape)."""

    role: str
    sub: str | None = None
    email: str | None = None
    aal: str = "aal1"
    is_anonymous: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def claims(self) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": "supabase", "role": self.role, "iat": now, "exp": now + 3600}
        if self.role == "authenticated":
            claims.update(
                {
                    "aud": "authenticated",
                    "sub": self.sub,
                    "email": self.email or "",
                    "phone": "",
                    "app_metadata": {"provider": "email", "providers": ["email"]},
                    "user_metadata": {},
                    "aal": self.aal,
                    "amr": [{"method": "password", "timestamp": now}],
                    "session_id": str(uuid.uuid5(uuid.NAMESPACE_OID, str(self.sub))),
                    "is_anonymous": self.is_anonymous,
                }
            )
        claims.update(self.extra)
        return claims


ANON = Jwt(role="anon")
SERVICE_ROLE = Jwt(role="service_role")


def user(user_id: uuid.UUID | str, email: str | None = None) -> Jwt:
    return Jwt(role="authenticated", sub=str(user_id), email=email)


def http_status(sqlstate: str, *, authenticated: bool) -> int:
    """PostgREST's SQLSTATE-to-HTTP table, including custom ``PTxyz`` codes."""
    if len(sqlstate) == 5 and sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    exact = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "53400": 500,
        "P0001": 400,
        "42883": 404,
        "42P01": 404,
        "42P17": 500,
    }
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "42501":
        return 403 if authenticated else 401
    by_class = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "25": 500,
        "28": 403,
        "2D": 500,
        "38": 500,
        "39": 500,
        "3B": 500,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "F0": 500,
        "HV": 500,
        "P0": 500,
        "XX": 500,
    }
    return by_class.get(sqlstate[:2], 400)


class RpcError(Exception):
    """What PostgREST would send back for a failed call."""

    def __init__(
        self,
        sqlstate: str,
        message: str,
        *,
        status: int,
        detail: str | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {sqlstate} {message}" + (f" ({detail})" if detail else ""))
        self.sqlstate = sqlstate
        self.message = message
        self.status = status
        self.detail = detail
        self.hint = hint
        self.headers = headers or {}


@dataclass(frozen=True)
class RpcResponse:
    data: Any
    status: int
    headers: dict[str, str]


@dataclass(frozen=True)
class _Signature:
    arg_types: dict[str, str]  # in-argument name -> type
    required: frozenset[str]
    returns_set: bool
    returns_void: bool


def _signatures(conn: psycopg.Connection, name: str) -> list[_Signature]:
    rows = conn.execute(
        """
        select
            coalesce(p.proargnames, '{}'),
            coalesce(p.proargmodes::text[], '{}'),
            p.proallargtypes,
            p.proargtypes::oid[],
            p.pronargs,
            p.pronargdefaults,
            p.proretset,
            p.prorettype = 'void'::regtype
        from pg_catalog.pg_proc as p
        where p.pronamespace = 'public'::regnamespace and p.proname = %s
        """,
        (name,),
    ).fetchall()
    result = []
    for names, modes, all_types, in_types, nargs, ndefaults, retset, retvoid in rows:
        types = all_types or in_types
        pairs = [
            (arg_name, type_oid)
            for arg_name, type_oid, mode in zip(names, types, modes or ["i"] * len(types))
            if mode in ("i", "b")
        ]
        type_names = {
            oid: scalar(conn, "select format_type(%s, null)", (oid,))
            for _, oid in pairs
        }
        arg_types = {arg_name: type_names[oid] for arg_name, oid in pairs}
        in_names = [arg_name for arg_name, _ in pairs]
        required = frozenset(in_names[: nargs - ndefaults])
        result.append(_Signature(arg_types, required, retset, retvoid))
    return result


def _choose(signatures: list[_Signature], given: set[str], name: str) -> _Signature:
    for sig in signatures:
        if given <= set(sig.arg_types) and sig.required <= given:
            return sig
    raise RpcError(
        "PGRST202",
        f"Could not find the function public.{name}({', '.join(sorted(given))}) in the schema cache",
        status=404,
    )


def _parse_headers(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    headers: dict[str, str] = {}
    for item in json.loads(raw):
        headers.update({str(k): str(v) for k, v in item.items()})
    return headers


def _from_pg_error(err: psycopg.Error, jwt: Jwt) -> RpcError:
    sqlstate = err.sqlstate or "XX000"
    message = err.diag.message_primary or str(err)
    detail, hint = err.diag.message_detail, err.diag.message_hint
    if sqlstate == "PGRST":
        # PostgREST's way to pick the status and headers of an error response:
        # RAISE SQLSTATE 'PGRST' with JSON in MESSAGE and DETAIL.
        body = json.loads(message)
        meta = json.loads(detail or "{}")
        return RpcError(
            body.get("code", "PGRST"),
            body.get("message", ""),
            status=int(meta.get("status", 400)),
            detail=body.get("details"),
            hint=body.get("hint"),
            headers={str(k): str(v) for k, v in meta.get("headers", {}).items()},
        )
    return RpcError(
        sqlstate, message, status=http_status(sqlstate, authenticated=jwt.role != "anon"), detail=detail, hint=hint
    )


# PostgREST's "impersonated role settings": the role's own settings (ALTER ROLE ..
# SET, not IN DATABASE ones) that a user may set, applied to each request's
# transaction; this is how statement_timeout and lock_timeout reach API calls.
_ROLE_SETTINGS = """
    select pg_catalog.set_config(s.name, s.value, true)
    from pg_catalog.pg_roles as r
    cross join lateral unnest(r.rolconfig) as c (setting)
    cross join lateral (
        select split_part(c.setting, '=', 1) as name, substr(c.setting, strpos(c.setting, '=') + 1) as value
    ) as s
    join pg_catalog.pg_settings as ps on ps.name = s.name and ps.context = 'user'
    where r.rolname = %s
"""


def begin_request(
    conn: psycopg.Connection,
    jwt: Jwt,
    *,
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
) -> None:
    """Inside an open transaction: become ``jwt``'s role with its claims, as PostgREST does.

    ``set local role``, the role's own settings, and the transaction-local request settings
    (``request.jwt.claims``, ``request.headers``, ``request.method``,
    ``request.path``), so grants, RLS and ``auth.uid()`` apply to every
    statement that follows until the transaction ends.
    """
    request_headers = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    conn.execute(sql.SQL("set local role {}").format(sql.Identifier(jwt.role)))
    conn.execute(_ROLE_SETTINGS, (jwt.role,))
    conn.execute(
        """
        select set_config('request.jwt.claims', %s, true),
               set_config('request.headers', %s, true),
               set_config('request.cookies', '{}', true),
               set_config('request.method', %s, true),
               set_config('request.path', %s, true),
               set_config('search_path', 'public, extensions', true)
        """,
        (json.dumps(jwt.claims()), json.dumps(request_headers), method, path),
    )


def call(
    conn: psycopg.Connection,
    name: str,
    args: dict[str, Any] | None = None,
    *,
    as_: Jwt | str = SERVICE_ROLE,
    headers: dict[str, str] | None = None,
) -> RpcResponse:
    """One PostgREST request on ``conn`` (which must be in autocommit mode).

    ``as_`` is a :class:`Jwt` (see :func:`user`) or a bare role name such as
    ``"anon"`` or ``"service_role"``.
    """
    if isinstance(as_, str):
        as_ = Jwt(role=as_)
    args = args or {}
    sig = _choose(_signatures(conn, name), set(args), name)
    names = [n for n in sig.arg_types if n in args]
    record = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(sig.arg_types[n])) for n in names)
    named = sql.SQL(", ").join(sql.SQL("{0} := r.{0}").format(sql.Identifier(n)) for n in names)
    fn = sql.SQL("public.{}({})").format(sql.Identifier(name), named)
    source = sql.SQL("json_to_record(%(body)s::json) as r({})").format(record) if names else sql.SQL("(select) as r")
    if sig.returns_void:
        query = sql.SQL("select {} from {}").format(fn, source)
    elif sig.returns_set:
        query = sql.SQL("select coalesce(jsonb_agg(to_jsonb(t)), '[]') from {} , lateral {} as t").format(source, fn)
    else:
        query = sql.SQL("select to_jsonb({}) from {}").format(fn, source)
    try:
        with conn.transaction():
            begin_request(conn, as_, method="POST", path=f"/rpc/{name}", headers=headers)
            row = conn.execute(query, {"body": json.dumps(args, default=str)}).fetchone()
            response = conn.execute(
                "select current_setting('response.headers', true), current_setting('response.status', true)"
            ).fetchone()
    except psycopg.Error as err:
        raise _from_pg_error(err, as_) from err
    assert response is not None
    raw_headers, raw_status = response
    data = None if sig.returns_void or row is None else row[0]
    status = int(raw_status) if raw_status else (204 if sig.returns_void else 200)
    return RpcResponse(data=data, status=status, headers=_parse_headers(raw_headers))


def as_client_sees(response: RpcResponse) -> Any:
    """What a PostgREST client (supabase-js, any HTTP client) makes of a response: a 4xx
    or 5xx is an error, whether the database raised it or answered it through
    response.status with PostgREST's error body ({code, message, details, hint})."""
    if response.status >= 400:
        body = response.data if isinstance(response.data, dict) else {}
        raise RpcError(
            body.get("code", ""), body.get("message", ""), status=response.status,
            detail=body.get("details"), hint=body.get("hint"),
        )
    return response.data
