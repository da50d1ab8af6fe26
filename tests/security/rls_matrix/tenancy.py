"""RLS matrix rows for the tenancy tables (format: spec.py)."""

from __future__ import annotations

import hashlib
import uuid

from tests.security.rls_matrix.spec import Table

# Workspace-scoped tables written by workspace admins: members read, admins write.
ADMIN_WRITES = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  ok       ok      ok      hidden   ok      ok
    insert  denied  refused  ok      ok      refused  ok      ok
    update  denied  hidden   ok      ok      hidden   ok      ok
    delete  denied  hidden   ok      ok      hidden   ok      ok
"""

# Platform tables: only platform admins write.
PLATFORM_ADMIN_WRITES = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  ok       ok      ok      ok       ok      ok
    insert  denied  refused  refused refused refused  ok      ok
    update  denied  hidden   hidden  hidden  hidden   ok      ok
    delete  denied  hidden   hidden  hidden  hidden   ok      ok
"""


def _key() -> str:
    return "mx_" + uuid.uuid4().hex[:10]


def _hash() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


TABLES = [
    Table(
        "plans",
        key=("key",),
        seed=lambda w: w.insert("plans", key=_key(), name="Matrix plan"),
        insert=lambda w: {"key": _key(), "name": "New plan"},
        update={"name": "Renamed plan"},
        expect=PLATFORM_ADMIN_WRITES,
    ),
    Table(
        "workspaces",
        seed=lambda w: w.one("select * from public.workspaces where id = %s", w.a),
        insert=lambda w: {"name": "New workspace", "owner_id": w.owner_a},
        update={"name": "Renamed workspace"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  ok       ok      ok      hidden   ok      ok
            insert  denied  refused  refused ok      refused  refused ok
            update  denied  hidden   ok      ok      hidden   ok      ok
            delete  denied  denied   denied  denied  denied   denied  ok
        """,
    ),
    Table(
        "workspace_users",
        key=("workspace_id", "user_id"),
        seed=lambda w: w.insert("workspace_users", workspace_id=w.a, user_id=w.user(), role="member"),
        insert=lambda w: {"workspace_id": w.a, "user_id": w.user(), "role": "member"},
        update={"role": "admin"},
        expect=ADMIN_WRITES,
    ),
    Table(
        "user_roles",
        key=("user_id",),
        seed=lambda w: w.insert("user_roles", user_id=w.user(), role="support"),
        insert=lambda w: {"user_id": w.user(), "role": "support"},
        update={"role": "admin"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  hidden   hidden  hidden  hidden   ok      ok
            insert  denied  refused  refused refused refused  ok      ok
            update  denied  hidden   hidden  hidden  hidden   ok      ok
            delete  denied  hidden   hidden  hidden  hidden   ok      ok
        """,
    ),
    Table(
        "alerts",
        seed=lambda w: w.insert(
            "alerts", type="matrix_probe", workspace_id=w.a, dedupe_key=f"matrix:{w.a}", message="probe"
        ),
        insert=lambda w: {"type": "matrix_probe", "workspace_id": w.a, "dedupe_key": _key(), "message": "new"},
        update={"acknowledged_at": "2026-01-01T00:00:00Z"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  ok       ok      ok      hidden   ok      ok
            insert  denied  denied   denied  denied  denied   denied  ok
            update  denied  hidden   ok      ok      hidden   ok      ok
            delete  denied  denied   denied  denied  denied   denied  ok
        """,
    ),
    Table(
        "audit_logs",
        seed=lambda w: w.insert(
            "audit_logs", actor_role="postgres", action="matrix.probe", target_table="workspaces", workspace_id=w.a
        ),
        insert=lambda w: {
            "actor_role": "service_role",
            "action": "matrix.new",
            "target_table": "workspaces",
            "workspace_id": w.a,
        },
        update={"reason": "rewritten"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  hidden   ok      ok      hidden   ok      ok
            insert  denied  denied   denied  denied  denied   denied  ok
            update  denied  denied   denied  denied  denied   denied  denied
            delete  denied  denied   denied  denied  denied   denied  denied
        """,
    ),
    # The routing keys (agents.phone_number, provider_number_id, agent_channels.external_id) have no
    # user grant: the probes below write other columns; tests/tenancy/test_routing_ownership.py covers those.
    Table(
        "agents",
        seed=lambda w: w.insert("agents", workspace_id=w.a, user_id=w.owner_a, agent_id=f"pending-{w.owner_a}"),
        insert=lambda w: {"workspace_id": w.a, "user_id": w.admin_a, "agent_id": f"pending-{w.admin_a}"},
        update={"nickname": "Renamed agent"},
        expect=ADMIN_WRITES,
    ),
    Table(
        "agent_channels",
        seed=lambda w: w.insert(
            "agent_channels", workspace_id=w.a, agent_id=w.row("agents")["id"], channel_type="webchat"
        ),
        insert=lambda w: {"workspace_id": w.a, "agent_id": w.row("agents")["id"], "channel_type": "sms"},
        update={"is_active": False},
        expect=ADMIN_WRITES,
    ),
    Table(
        "connectors",
        seed=lambda w: w.insert("connectors", workspace_id=w.a, name="CRM", connector_type="hubspot"),
        insert=lambda w: {"workspace_id": w.a, "name": "Docs", "connector_type": "gdrive"},
        update={"is_active": False},
        expect=ADMIN_WRITES,
    ),
    Table(
        "conversations",
        seed=lambda w: w.insert(
            "conversations", workspace_id=w.a, channel_type="webchat", external_thread_id="matrix-thread"
        ),
        insert=lambda w: {"workspace_id": w.a, "channel_type": "sms", "external_thread_id": _key()},
        update={"status": "closed"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  ok       ok      ok      hidden   hidden  ok
            insert  denied  denied   denied  denied  denied   denied  ok
            update  denied  ok       ok      ok      hidden   hidden  ok
            delete  denied  denied   denied  denied  denied   denied  ok
        """,
    ),
    Table(
        "messages",
        seed=lambda w: w.insert(
            "messages", workspace_id=w.a, conversation_id=w.row("conversations")["id"], direction="inbound", body="hi"
        ),
        insert=lambda w: {
            "workspace_id": w.a,
            "conversation_id": w.row("conversations")["id"],
            "direction": "outbound",
            "body": "hello",
        },
        update={"body": "edited"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  ok       ok      ok      hidden   hidden  ok
            insert  denied  denied   denied  denied  denied   denied  ok
            update  denied  denied   denied  denied  denied   denied  ok
            delete  denied  denied   denied  denied  denied   denied  ok
        """,
    ),
    Table(
        "workspace_api_keys",
        seed=lambda w: w.insert(
            "workspace_api_keys", workspace_id=w.a, name="Seed", prefix="opsk_00000000", key_hash=_hash()
        ),
        insert=lambda w: {"workspace_id": w.a, "name": "Forged", "prefix": "opsk_11111111", "key_hash": _hash()},
        update={"name": "Renamed key"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  hidden   ok      ok      hidden   ok      ok
            insert  denied  denied   denied  denied  denied   denied  ok
            update  denied  hidden   ok      ok      hidden   ok      ok
            delete  denied  denied   denied  denied  denied   denied  ok
        """,
    ),
    Table(
        "external_api_audit_logs",
        seed=lambda w: w.insert("external_api_audit_logs", reason="revoked", workspace_id=w.a),
        insert=lambda w: {"reason": "unknown", "workspace_id": w.a},
        update={"reason": "expired"},
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  hidden   ok      ok      hidden   ok      ok
            insert  denied  denied   denied  denied  denied   denied  ok
            update  denied  denied   denied  denied  denied   denied  denied
            delete  denied  denied   denied  denied  denied   denied  ok
        """,
    ),
]
