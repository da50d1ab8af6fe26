"""Security-relevant changes leave audit_logs rows, written by triggers whoever
makes the change; audit_logs itself is append-only for every role."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from harness.factories import Factories, acting_as
from harness.rpc import SERVICE_ROLE


def audit_rows(db: psycopg.Connection, action: str, target_id: Any | None = None) -> list[tuple[Any, ...]]:
    query = "select actor_id, actor_role, before, after, reason, workspace_id from public.audit_logs where action = %s"
    params: list[Any] = [action]
    if target_id is not None:
        query += " and target_id = %s"
        params.append(str(target_id))
    return db.execute(query + " order by id", params).fetchall()


def test_workspace_status_change_is_audited_once_with_before_and_after(
    db: psycopg.Connection, factories: Factories
) -> None:
    ws = factories.workspace()
    db.execute("update public.workspaces set status = 'suspended', status_reason = 'fraud' where id = %s", (ws.id,))
    [(actor_id, actor_role, before, after, reason, workspace_id)] = audit_rows(db, "workspace.status_changed", ws.id)
    assert (actor_id, actor_role) == (None, "postgres")
    assert before == {"status": "active", "status_reason": None}
    assert after == {"status": "suspended", "status_reason": "fraud"}
    assert (reason, workspace_id) == ("fraud", ws.id)


def test_status_change_without_reason_clears_the_stale_reason(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    db.execute("update public.workspaces set status = 'suspended', status_reason = 'fraud' where id = %s", (ws.id,))
    db.execute("update public.workspaces set status = 'active' where id = %s", (ws.id,))
    assert db.execute("select status_reason from public.workspaces where id = %s", (ws.id,)).fetchone() == (None,)


def test_rename_is_not_a_status_change(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    db.execute("update public.workspaces set name = 'Renamed' where id = %s", (ws.id,))
    assert audit_rows(db, "workspace.status_changed", ws.id) == []


def test_membership_add_role_change_and_removal_are_audited(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    member = factories.member(ws, "member")
    with acting_as(db, ws.owner.jwt):
        db.execute(
            "update public.workspace_users set role = 'admin' where workspace_id = %s and user_id = %s",
            (ws.id, member.id),
        )
        db.execute("delete from public.workspace_users where workspace_id = %s and user_id = %s", (ws.id, member.id))
    added = audit_rows(db, "membership.added", member.id)
    [changed] = audit_rows(db, "membership.role_changed", member.id)
    [removed] = audit_rows(db, "membership.removed", member.id)
    assert len(added) == 1
    assert changed[0] == ws.owner.id and changed[1] == "authenticated"
    assert (changed[2]["role"], changed[3]["role"]) == ("member", "admin")
    assert removed[2] == {"user_id": str(member.id), "role": "admin"} and removed[3] is None


def test_platform_role_grant_and_revocation_are_audited(db: psycopg.Connection, factories: Factories) -> None:
    admin = factories.platform_admin()
    staff = factories.user()
    with acting_as(db, admin.jwt):
        db.execute("insert into public.user_roles (user_id, role) values (%s, 'support')", (staff.id,))
        db.execute("delete from public.user_roles where user_id = %s", (staff.id,))
    [granted] = audit_rows(db, "user_role.granted", staff.id)
    [revoked] = audit_rows(db, "user_role.revoked", staff.id)
    assert granted[0] == admin.id
    assert granted[3] == {"role": "support", "granted_by": str(admin.id)}
    assert revoked[2]["role"] == "support"


@pytest.mark.parametrize(
    ("table", "make", "action"),
    [
        ("agent_channels", lambda f, ws: f.channel(ws), "channel"),
        ("connectors", lambda f, ws: f.connector(ws), "connector"),
    ],
)
def test_activation_flips_are_audited(db: psycopg.Connection, factories: Factories, table, make, action) -> None:
    ws = factories.workspace()
    row = make(factories, ws)
    db.execute(f"update public.{table} set is_active = false where id = %s", (row.id,))
    db.execute(f"update public.{table} set is_active = false where id = %s", (row.id,))  # no change: no row
    db.execute(f"update public.{table} set is_active = true where id = %s", (row.id,))
    assert [r[3] for r in audit_rows(db, f"{action}.deactivated", row.id)] == [{"is_active": False}]
    assert [r[3] for r in audit_rows(db, f"{action}.activated", row.id)] == [{"is_active": True}]


@pytest.mark.parametrize("statement", ["update public.audit_logs set reason = 'x'", "delete from public.audit_logs"])
def test_audit_logs_refuse_update_and_delete_for_the_table_owner(db: psycopg.Connection, statement: str) -> None:
    db.execute("insert into public.audit_logs (actor_role, action, target_table) values ('postgres', 't', 't')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as err:
        db.execute(statement)
    assert err.value.diag.message_primary == "audit_logs_append_only"
    assert db.execute("select count(*), min(reason) from public.audit_logs where action = 't'").fetchone() == (1, None)


def test_audit_logs_refuse_truncate_for_the_table_owner(db: psycopg.Connection) -> None:
    db.execute("insert into public.audit_logs (actor_role, action, target_table) values ('postgres', 't', 't')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("truncate public.audit_logs")
    assert db.execute("select count(*) from public.audit_logs where action = 't'").fetchone() == (1,)


@pytest.mark.parametrize("statement", ["update public.audit_logs set reason = 'x'", "delete from public.audit_logs"])
def test_audit_logs_refuse_update_and_delete_for_service_role(db: psycopg.Connection, statement: str) -> None:
    db.execute("insert into public.audit_logs (actor_role, action, target_table) values ('postgres', 't', 't')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as err, acting_as(db, SERVICE_ROLE):
        db.execute(statement)
    assert (err.value.diag.message_primary or "").startswith("permission denied for table audit_logs")
    assert db.execute("select count(*), min(reason) from public.audit_logs where action = 't'").fetchone() == (1, None)


@pytest.mark.parametrize("statement", ["update public.audit_logs set reason = 'x'", "delete from public.audit_logs"])
def test_audit_logs_refuse_update_and_delete_for_the_workspace_owner(
    db: psycopg.Connection, factories: Factories, statement: str
) -> None:
    ws = factories.workspace()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, ws.owner.jwt):
        db.execute(statement)
    kept = db.execute("select count(*) from public.audit_logs where workspace_id = %s", (ws.id,)).fetchone()
    assert kept is not None and kept[0] >= 1
