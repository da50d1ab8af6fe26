"""Kill switches take effect at once and each leaves exactly one audit row:
set_workspace_status, and the README's incident playbook SQL run as written."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from harness.factories import Factories, Workspace
from harness.testing import Rpc
from harness.rpc import RpcError


@pytest.fixture
def ws(factories: Factories) -> Workspace:
    return factories.workspace()


def audit_count(db: psycopg.Connection) -> int:
    row = db.execute("select count(*) from public.audit_logs").fetchone()
    assert row is not None
    return int(row[0])


def test_platform_admin_suspends_a_workspace_and_its_keys_fail(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace
) -> None:
    key = factories.api_key(ws)
    admin = factories.platform_admin()
    before = audit_count(db)
    result = rpc(
        "set_workspace_status", {"workspace_id": str(ws.id), "status": "suspended", "reason": "INC-42"}, as_=admin.jwt
    )
    assert result == {"workspace_id": str(ws.id), "status": "suspended", "previous_status": "active", "changed": True}
    assert audit_count(db) == before + 1
    row = db.execute(
        "select actor_id, action, reason, after ->> 'status' from public.audit_logs order by id desc limit 1"
    ).fetchone()
    assert row == (admin.id, "workspace.status_changed", "INC-42", "suspended")
    assert rpc.response("authenticate_api_key", {"api_key": key.raw}).status == 401
    rpc("set_workspace_status", {"workspace_id": str(ws.id), "status": "active", "reason": "resolved"}, as_=admin.jwt)
    assert rpc("authenticate_api_key", {"api_key": key.raw})["workspace_id"] == str(ws.id)


def test_each_flip_is_audited_with_its_own_reason_even_a_repeated_one(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace
) -> None:
    admin = factories.platform_admin()
    for status in ("suspended", "active", "disabled"):
        rpc("set_workspace_status", {"workspace_id": str(ws.id), "status": status, "reason": "INC-7"}, as_=admin.jwt)
    rows = db.execute(
        "select after ->> 'status', reason from public.audit_logs where action = 'workspace.status_changed' order by id"
    ).fetchall()
    assert rows == [("suspended", "INC-7"), ("active", "INC-7"), ("disabled", "INC-7")]
    assert db.execute("select status_reason from public.workspaces where id = %s", (ws.id,)).fetchone() == ("INC-7",)


def test_setting_the_same_status_changes_nothing(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace
) -> None:
    admin = factories.platform_admin()
    before = audit_count(db)
    result = rpc(
        "set_workspace_status", {"workspace_id": str(ws.id), "status": "active", "reason": "noop"}, as_=admin.jwt
    )
    assert result["changed"] is False
    assert audit_count(db) == before


@pytest.mark.parametrize("who", ["owner", "workspace_admin", "support"])
def test_only_platform_admins_flip_the_workspace_switch(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace, who: str
) -> None:
    jwt = {
        "owner": lambda: ws.owner.jwt,
        "workspace_admin": lambda: factories.member(ws, "admin").jwt,
        "support": lambda: factories.support().jwt,
    }[who]()
    before = audit_count(db)
    with pytest.raises(RpcError) as err:
        rpc("set_workspace_status", {"workspace_id": str(ws.id), "status": "disabled", "reason": "x"}, as_=jwt)
    assert err.value.sqlstate == "42501"
    assert db.execute("select status from public.workspaces where id = %s", (ws.id,)).fetchone() == ("active",)
    assert audit_count(db) == before


@pytest.mark.parametrize(
    ("args", "sqlstate", "message"),
    [
        ({"status": "deleted", "reason": "x"}, "22023", "invalid_status"),
        ({"status": "disabled", "reason": " "}, "22023", "reason_required"),
        ({"status": "disabled", "reason": "x", "workspace_id": str(uuid.uuid4())}, "PT404", "workspace_not_found"),
    ],
)
def test_bad_kill_switch_calls_change_nothing(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace, args: dict, sqlstate: str, message: str
) -> None:
    admin = factories.platform_admin()
    before = audit_count(db)
    with pytest.raises(RpcError) as err:
        rpc("set_workspace_status", {"workspace_id": str(ws.id), **args}, as_=admin.jwt)
    assert (err.value.sqlstate, err.value.message) == (sqlstate, message)
    assert db.execute("select status from public.workspaces where id = %s", (ws.id,)).fetchone() == ("active",)
    assert audit_count(db) == before


# The README's incident playbook, statement by statement, as written
# there (with the placeholder id filled in), run by an on-call DBA in SQL.


def test_playbook_revoke_an_api_key(rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace) -> None:
    key = factories.api_key(ws)
    before = audit_count(db)
    db.execute(f"UPDATE public.workspace_api_keys SET status = 'revoked' WHERE id = '{key.id}';")
    assert audit_count(db) == before + 1
    assert rpc.response("authenticate_api_key", {"api_key": key.raw}).status == 401


def test_playbook_disable_a_channel(db: psycopg.Connection, factories: Factories, ws: Workspace) -> None:
    channel = factories.channel(ws)
    before = audit_count(db)
    db.execute(f"UPDATE public.agent_channels SET is_active = false WHERE id = '{channel.id}';")
    assert audit_count(db) == before + 1
    assert db.execute("select action from public.audit_logs order by id desc limit 1").fetchone() == (
        "channel.deactivated",
    )
    assert db.execute("select is_active from public.agent_channels where id = %s", (channel.id,)).fetchone() == (
        False,
    )


def test_playbook_pause_an_ingestion_job(db: psycopg.Connection, factories: Factories, ws: Workspace) -> None:
    connector = factories.connector(ws)
    before = audit_count(db)
    db.execute(f"UPDATE public.connectors SET is_active = false WHERE id = '{connector.id}';")
    assert audit_count(db) == before + 1
    assert db.execute("select action from public.audit_logs order by id desc limit 1").fetchone() == (
        "connector.deactivated",
    )


def test_playbook_workspace_status_statement(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, ws: Workspace
) -> None:
    key = factories.api_key(ws)
    before = audit_count(db)
    db.execute(f"UPDATE public.workspaces SET status = 'disabled' WHERE id = '{ws.id}';")
    assert audit_count(db) == before + 1
    assert rpc.response("authenticate_api_key", {"api_key": key.raw}).status == 401
