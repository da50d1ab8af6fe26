"""API keys: hashes only, the raw key shown once, failures recorded, kill switch at once."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from harness.factories import ApiKey, Factories, Workspace, acting_as
from harness.testing import Rpc
from harness.rpc import ANON, Jwt, RpcError


@pytest.fixture
def ws(factories: Factories) -> Workspace:
    return factories.workspace(plan_key="pro")


@pytest.fixture
def key(factories: Factories, ws: Workspace) -> ApiKey:
    return factories.api_key(ws, name="Backend", scopes=["calls:read", "sms:send"])


def assert_401(rpc: Rpc, api_key: str, reason: str) -> None:
    response = rpc.response("authenticate_api_key", {"api_key": api_key})
    assert response.status == 401
    assert response.data["code"] == "PT401" and response.data["message"] == "invalid_api_key"
    assert response.data["details"].startswith(reason)


def failures(db: psycopg.Connection) -> list[tuple[str, uuid.UUID | None, str | None]]:
    return db.execute("select reason, key_id, key_prefix from public.external_api_audit_logs order by id").fetchall()


def test_create_returns_the_key_once_and_stores_only_its_hash(db: psycopg.Connection, key: ApiKey) -> None:
    assert re.fullmatch(r"opsk_[0-9a-f]{64}", key.raw)
    assert key.prefix == key.raw[:13]
    row = db.execute(
        "select key_hash, prefix, status, created_by is not null from public.workspace_api_keys where id = %s",
        (key.id,),
    ).fetchone()
    assert row == (hashlib.sha256(key.raw.encode()).hexdigest(), key.prefix, "active", True)


def test_no_column_of_any_table_contains_the_raw_key(db: psycopg.Connection, key: ApiKey) -> None:
    tables = db.execute(
        "select n.nspname, c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
        " where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')"
    ).fetchall()
    assert len(tables) > 10
    holding = []
    for schema, table in tables:
        hit = db.execute(
            sql.SQL("select count(*) from {} as t where t::text like %s").format(sql.Identifier(schema, table)),
            (f"%{key.raw[13:]}%",),
        ).fetchone()
        if hit and hit[0]:
            holding.append(f"{schema}.{table}")
    assert holding == []


def test_authenticate_returns_workspace_scopes_and_plan_and_marks_use(
    rpc: Rpc, db: psycopg.Connection, ws: Workspace, key: ApiKey
) -> None:
    result = rpc("authenticate_api_key", {"api_key": key.raw})
    assert result == {
        "workspace_id": str(ws.id),
        "key_id": str(key.id),
        "scopes": ["calls:read", "sms:send"],
        "plan_key": "pro",
    }
    assert db.execute("select last_used_at is not null from public.workspace_api_keys").fetchone() == (True,)
    assert failures(db) == []


def test_unknown_key_fails_with_pt401_and_is_recorded(rpc: Rpc, db: psycopg.Connection, key: ApiKey) -> None:
    forged = "opsk_" + "0" * 64
    assert_401(rpc, forged, "unknown")
    assert failures(db) == [("unknown", None, "opsk_00000000")]


def test_malformed_key_fails_with_pt401_and_is_recorded(rpc: Rpc, db: psycopg.Connection) -> None:
    assert_401(rpc, "Bearer hunter2", "malformed")
    assert failures(db) == [("malformed", None, None)]


def test_revoked_key_fails_on_the_next_call(rpc: Rpc, db: psycopg.Connection, ws: Workspace, key: ApiKey) -> None:
    rpc("authenticate_api_key", {"api_key": key.raw})
    result = rpc("revoke_api_key", {"key_id": str(key.id), "reason": "leaked"}, as_=ws.owner.jwt)
    assert result["status"] == "revoked" and result["already_revoked"] is False
    assert_401(rpc, key.raw, "revoked")
    assert failures(db) == [("revoked", key.id, key.prefix)]
    assert db.execute(
        "select revoked_reason, revoked_by, revoked_at is not null from public.workspace_api_keys"
    ).fetchone() == ("leaked", ws.owner.id, True)


def test_playbook_revoke_statement_fails_the_key_at_once_and_is_audited(
    rpc: Rpc, db: psycopg.Connection, key: ApiKey
) -> None:
    rpc("authenticate_api_key", {"api_key": key.raw})
    db.execute(f"UPDATE public.workspace_api_keys SET status = 'revoked' WHERE id = '{key.id}';")
    assert_401(rpc, key.raw, "revoked")
    rows = db.execute(
        "select actor_role, before, after ->> 'status' from public.audit_logs"
        " where action = 'api_key.revoked' and target_id = %s",
        (str(key.id),),
    ).fetchall()
    assert rows == [("postgres", {"status": "active"}, "revoked")]
    assert db.execute("select revoked_at is not null from public.workspace_api_keys").fetchone() == (True,)


def test_expired_key_fails(rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace) -> None:
    soon = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    key = factories.api_key(ws, expires_at=soon)
    rpc("authenticate_api_key", {"api_key": key.raw})
    db.execute("update public.workspace_api_keys set expires_at = now() - interval '1 second' where id = %s", (key.id,))
    assert_401(rpc, key.raw, "expired")
    assert failures(db) == [("expired", key.id, key.prefix)]


@pytest.mark.parametrize("status", ["suspended", "disabled"])
def test_inactive_workspace_key_fails(
    rpc: Rpc, db: psycopg.Connection, ws: Workspace, key: ApiKey, status: str
) -> None:
    db.execute("update public.workspaces set status = %s where id = %s", (status, ws.id))
    assert_401(rpc, key.raw, f"workspace_{status}")
    assert failures(db) == [(f"workspace_{status}", key.id, key.prefix)]


def test_failure_from_plain_sql_raises_pt401(db: psycopg.Connection) -> None:
    with pytest.raises(psycopg.Error) as err:
        db.execute("select public.authenticate_api_key(%s)", ("opsk_" + "1" * 64,))
    assert err.value.sqlstate == "PT401"


def test_a_spike_of_failures_raises_one_alert(rpc: Rpc, db: psycopg.Connection) -> None:
    for _ in range(25):
        assert_401(rpc, "opsk_" + uuid.uuid4().hex * 2, "unknown")
    alerts = db.execute("select count(*), min(severity) from public.alerts where type = 'api_auth_failures'")
    assert alerts.fetchone() == (1, "critical")


def test_revocation_is_final(db: psycopg.Connection, key: ApiKey) -> None:
    db.execute("update public.workspace_api_keys set status = 'revoked' where id = %s", (key.id,))
    with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
        db.execute("update public.workspace_api_keys set status = 'active' where id = %s", (key.id,))
    assert err.value.diag.message_primary == "api_key_revoked"


def test_revoking_twice_changes_nothing_more(rpc: Rpc, db: psycopg.Connection, ws: Workspace, key: ApiKey) -> None:
    rpc("revoke_api_key", {"key_id": str(key.id)}, as_=ws.owner.jwt)
    again = rpc("revoke_api_key", {"key_id": str(key.id)}, as_=ws.owner.jwt)
    assert again["already_revoked"] is True
    assert db.execute("select count(*) from public.audit_logs where action = 'api_key.revoked'").fetchone() == (1,)


def test_create_and_revoke_are_audited_without_the_hash(db: psycopg.Connection, key: ApiKey) -> None:
    [(after,)] = db.execute("select after from public.audit_logs where action = 'api_key.created'").fetchall()
    assert after["prefix"] == key.prefix and "key_hash" not in after


@pytest.mark.parametrize("who", ["member", "other_owner", "anon", "service_role"])
def test_only_workspace_admins_create_keys(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace, who: str
) -> None:
    callers: dict[str, Callable[[], Jwt | str]] = {
        "member": lambda: factories.member(ws, "member").jwt,
        "other_owner": lambda: factories.workspace().owner.jwt,
        "anon": lambda: ANON,
        "service_role": lambda: "service_role",
    }
    jwt = callers[who]()
    with pytest.raises(RpcError) as err:
        rpc("create_api_key", {"workspace_id": str(ws.id), "name": "x"}, as_=jwt)
    assert err.value.sqlstate == "42501"
    assert db.execute("select count(*) from public.workspace_api_keys").fetchone() == (0,)


def test_workspace_admin_creates_and_platform_admin_revokes(rpc: Rpc, factories: Factories, ws: Workspace) -> None:
    admin = factories.member(ws, "admin")
    key = factories.api_key(ws, by=admin)
    result = rpc("revoke_api_key", {"key_id": str(key.id)}, as_=factories.platform_admin().jwt)
    assert result["status"] == "revoked"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": "  "}, "invalid_name"),
        ({"name": "k", "scopes": ["Calls Read"]}, "invalid_scope"),
        ({"name": "k", "scopes": ["calls:read", None]}, "invalid_scope"),
        ({"name": "k", "expires_at": "2000-01-01T00:00:00Z"}, "invalid_expires_at"),
    ],
)
def test_bad_arguments_are_refused(rpc: Rpc, db: psycopg.Connection, ws: Workspace, args: dict, message: str) -> None:
    with pytest.raises(RpcError) as err:
        rpc("create_api_key", {"workspace_id": str(ws.id), **args}, as_=ws.owner.jwt)
    assert (err.value.sqlstate, err.value.message) == ("22023", message)
    assert db.execute("select count(*) from public.workspace_api_keys").fetchone() == (0,)


def test_suspended_workspace_cannot_mint_keys(rpc: Rpc, db: psycopg.Connection, ws: Workspace) -> None:
    db.execute("update public.workspaces set status = 'suspended' where id = %s", (ws.id,))
    with pytest.raises(RpcError) as err:
        rpc("create_api_key", {"workspace_id": str(ws.id), "name": "k"}, as_=ws.owner.jwt)
    assert (err.value.sqlstate, err.value.message) == ("42501", "workspace_not_active")


@pytest.mark.parametrize("who", ["member", "other_owner"])
def test_only_workspace_admins_revoke_keys(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace, key: ApiKey, who: str
) -> None:
    jwt = factories.member(ws, "member").jwt if who == "member" else factories.workspace().owner.jwt
    with pytest.raises(RpcError) as err:
        rpc("revoke_api_key", {"key_id": str(key.id)}, as_=jwt)
    assert (err.value.sqlstate, err.value.message) == ("PT404", "api_key_not_found")
    assert db.execute("select status from public.workspace_api_keys").fetchone() == ("active",)


def test_revoking_an_unknown_key_is_not_found(rpc: Rpc, ws: Workspace) -> None:
    with pytest.raises(RpcError) as err:
        rpc("revoke_api_key", {"key_id": str(uuid.uuid4())}, as_=ws.owner.jwt)
    assert err.value.sqlstate == "PT404"


def test_revoke_does_not_disclose_whether_someone_elses_key_exists(
    rpc: Rpc, factories: Factories, key: ApiKey
) -> None:
    stranger = factories.workspace().owner

    def answer(key_id: uuid.UUID) -> tuple[object, ...]:
        with pytest.raises(RpcError) as err:
            rpc("revoke_api_key", {"key_id": str(key_id)}, as_=stranger.jwt)
        e = err.value
        return e.status, e.sqlstate, e.message, (e.detail or "").replace(str(key_id), "<id>"), e.hint

    assert answer(key.id) == answer(uuid.uuid4())


def test_authenticate_is_for_service_role_only(rpc: Rpc, ws: Workspace, key: ApiKey) -> None:
    for jwt in (ANON, ws.owner.jwt):
        with pytest.raises(RpcError) as err:
            rpc("authenticate_api_key", {"api_key": key.raw}, as_=jwt)
        assert err.value.sqlstate == "42501"


def test_members_cannot_forge_keys_directly(db: psycopg.Connection, ws: Workspace) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, ws.owner.jwt):
        db.execute(
            "insert into public.workspace_api_keys (workspace_id, name, prefix, key_hash) values (%s, 'x', %s, %s)",
            (ws.id, "opsk_00000000", "0" * 64),
        )
