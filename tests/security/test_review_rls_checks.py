"""The three manual RLS checks of a readiness review, as tests."""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories, acting_as
from harness.rows import scalar
from harness.rpc import SERVICE_ROLE

TENANT_TABLES = ["workspaces", "workspace_users", "agents", "agent_channels", "connectors", "conversations", "messages"]


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_cross_workspace_select_returns_nothing(db: psycopg.Connection, factories: Factories, table: str) -> None:
    ws_a, ws_b = factories.workspace(), factories.workspace()
    for ws in (ws_a, ws_b):
        channel = factories.channel(ws)
        factories.connector(ws)
        factories.message(factories.conversation(ws, channel), body=f"secret of {ws.name}")
    column = "id" if table == "workspaces" else "workspace_id"
    with acting_as(db, ws_b.owner.jwt):
        other = db.execute(f"select count(*) from public.{table} where {column} = %s", (ws_a.id,)).fetchone()
        everything = db.execute(
            f"select count(*), count(*) filter (where {column} = %s) from public.{table}", (ws_b.id,)
        ).fetchone()
    assert other == (0,)
    # B's owner still sees B's own rows: the policy hides A, it does not hide everything.
    assert everything is not None and everything[0] > 0 and everything[0] == everything[1]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("insert into public.user_roles (user_id, role) values (%(me)s, 'admin')", "violates row-level security"),
        ("insert into public.plans (key, name) values ('hacked', 'Hacked')", "violates row-level security"),
        (
            "insert into public.audit_logs (actor_role, action, target_table) values ('x', 'x', 'x')",
            "permission denied",
        ),
        ("update public.workspaces set status = 'active' where id = %(ws)s", "permission denied"),
        ("update public.workspaces set plan_key = 'business' where id = %(ws)s", "permission denied"),
    ],
)
def test_member_writing_admin_table_fails(
    db: psycopg.Connection, factories: Factories, statement: str, expected: str
) -> None:
    ws = factories.workspace()
    member = factories.member(ws, "member")
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as err, acting_as(db, member.jwt):
        db.execute(statement, {"me": member.id, "ws": ws.id})
    assert expected in (err.value.diag.message_primary or "")
    assert db.execute("select count(*) from public.user_roles where user_id = %s", (member.id,)).fetchone() == (0,)
    assert db.execute("select count(*) from public.plans where key = 'hacked'").fetchone() == (0,)
    assert db.execute("select plan_key, status from public.workspaces where id = %s", (ws.id,)).fetchone() == (
        "free",
        "active",
    )


def test_member_updating_admin_rows_changes_nothing(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    member = factories.member(ws, "member")
    admin = factories.platform_admin()
    with acting_as(db, member.jwt):
        updated = db.execute("update public.user_roles set role = 'support' where user_id = %s", (admin.id,)).rowcount
        deleted = db.execute("delete from public.plans where key = 'pro'").rowcount
    assert (updated, deleted) == (0, 0)
    assert db.execute("select role from public.user_roles where user_id = %s", (admin.id,)).fetchone() == ("admin",)
    assert db.execute("select count(*) from public.plans where key = 'pro'").fetchone() == (1,)


def test_service_role_ingestion_succeeds(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    member = factories.member(ws, "member")
    channel = factories.channel(ws, channel_type="sms", external_id="+201000000001")
    with acting_as(db, SERVICE_ROLE):
        conversation_id = scalar(
            db,
            "insert into public.conversations (workspace_id, agent_id, channel_id, channel_type, external_thread_id)"
            " values (%s, %s, %s, 'sms', '+201001234567') returning id",
            (ws.id, channel.agent_id, channel.id),
        )
        db.execute(
            "insert into public.messages"
            " (workspace_id, conversation_id, direction, body, provider, provider_message_id)"
            " values (%s, %s, 'inbound', 'Hello from SMS', 'twilio', 'SM123')",
            (ws.id, conversation_id),
        )
    with acting_as(db, member.jwt):
        seen = db.execute("select body from public.messages where conversation_id = %s", (conversation_id,)).fetchall()
    assert seen == [("Hello from SMS",)]
