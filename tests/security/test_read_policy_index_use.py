"""A tenant's read costs its own rows: every workspace-scoped read policy names the
visible workspaces in one array (private.visible_workspace_ids), so a member's read
with no workspace filter is answered from the index that leads with workspace_id.

An OR with a platform-staff flag beside the membership array keeps the planner off
that index (the read scans every tenant's rows); these tests fail if a policy does
that again. The plans are taken with sequential scans disabled, so an empty table
cannot hide the difference: a policy the index cannot answer still shows up as a
sequential scan or as an index scan without a workspace condition.
"""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, acting_as

NIL = "00000000-0000-0000-0000-000000000000"


def _workspace_policies(db: psycopg.Connection) -> dict[str, str]:
    """table -> select policy qual, for public tables whose read policy names workspaces."""
    rows = db.execute(
        """
        select p.tablename, p.qual
        from pg_catalog.pg_policies as p
        where p.schemaname = 'public' and p.cmd in ('SELECT', 'ALL') and 'authenticated' = any(p.roles)
            and (p.qual like '%workspace_id%' or p.qual like '%workspace_ids%')
        order by 1
        """
    ).fetchall()
    return {table: qual for table, qual in rows}


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def _scan_conditions(plan: dict[str, Any], table: str) -> list[tuple[str, str]]:
    """(node type, index condition) of every scan of ``table`` in the plan."""
    scans: list[tuple[str, str]] = []
    for node in _nodes(plan):
        if node.get("Relation Name") != table:
            continue
        condition = node.get("Index Cond", "")
        if node["Node Type"] == "Bitmap Heap Scan":
            condition = " ".join(n.get("Index Cond", "") for n in _nodes(node) if n is not node)
        scans.append((node["Node Type"], condition))
    return scans


WORKSPACE_TABLES = [
    "agent_channels",
    "agents",
    "alerts",
    "audit_logs",
    "billing_line_items",
    "call_events",
    "connectors",
    "conversations",
    "external_api_audit_logs",
    "messages",
    "payments",
    "sms_events",
    "subscriptions",
    "tier_snapshots",
    "usage_events",
    "usage_limits",
    "wallet_ledger",
    "weekly_insights",
    "workspace_api_keys",
    "workspace_users",
    "workspace_wallets",
    "workspaces",
]


def test_every_workspace_read_policy_is_listed_here(db: psycopg.Connection) -> None:
    assert sorted(_workspace_policies(db)) == WORKSPACE_TABLES


def test_no_workspace_read_policy_ors_a_staff_flag(db: psycopg.Connection) -> None:
    offending = {
        table: qual
        for table, qual in _workspace_policies(db).items()
        if "is_support()" in qual or "is_admin()" in qual
    }
    assert offending == {}


@pytest.mark.parametrize("table", WORKSPACE_TABLES)
def test_member_read_without_filter_uses_the_workspace_index(
    db: psycopg.Connection, factories: Factories, table: str
) -> None:
    ws = factories.workspace()
    member = factories.member(ws)
    db.execute("set enable_seqscan = off")
    try:
        with acting_as(db, member.jwt):
            row = db.execute(f"explain (format json) select count(*) from public.{table}").fetchone()
    finally:
        db.execute("reset enable_seqscan")
    assert row is not None
    plan = (json.loads(row[0]) if isinstance(row[0], str) else row[0])[0]["Plan"]
    scans = _scan_conditions(plan, table)
    assert scans, f"{table}: no scan of the table in the plan"
    column = "id" if table == "workspaces" else "workspace_id"
    for node_type, condition in scans:
        assert node_type in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), (table, node_type)
        assert re.search(rf"\b{column}\b[^=]*= ANY", condition), (table, node_type, condition)


@pytest.mark.parametrize(
    ("table", "staff", "marker"),
    [
        ("alerts", "support", "dedupe_key = 'probe:nil'"),
        ("audit_logs", "platform_admin", "action = 'probe'"),
        ("external_api_audit_logs", "platform_admin", "key_prefix = 'opsk_00000000'"),
    ],
)
def test_rows_of_no_workspace_stay_visible_to_staff_only(
    db: psycopg.Connection, factories: Factories, table: str, staff: str, marker: str
) -> None:
    ws = factories.workspace()
    if table == "alerts":
        db.execute("insert into public.alerts (type, dedupe_key, message) values ('probe', 'probe:nil', 'platform')")
    elif table == "audit_logs":
        db.execute(
            "insert into public.audit_logs (actor_role, action, target_table) values ('postgres', 'probe', 'plans')"
        )
    else:
        db.execute(
            "insert into public.external_api_audit_logs (key_prefix, reason) values ('opsk_00000000', 'unknown')"
        )
    viewer = getattr(factories, staff)()
    with acting_as(db, viewer.jwt):
        staff_sees = db.execute(f"select count(*) from public.{table} where {marker}").fetchone()
    with acting_as(db, ws.owner.jwt):
        owner_sees = db.execute(f"select count(*) from public.{table} where {marker}").fetchone()
    assert staff_sees == (1,)
    assert owner_sees == (0,)


def test_no_workspace_has_the_nil_uuid(db: psycopg.Connection, factories: Factories) -> None:
    owner = factories.user()
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "insert into public.workspaces (id, name, owner_id) values (%s, 'nil', %s)",
            (NIL, owner.id),
        )


def test_staff_see_every_workspace_and_members_their_own(db: psycopg.Connection, factories: Factories) -> None:
    mine = factories.workspace()
    other = factories.workspace()
    support = factories.support()
    with acting_as(db, mine.owner.jwt):
        owner_ids = db.execute("select private.visible_workspace_ids('member', 'support')").fetchone()
        owner_admin_ids = db.execute("select private.visible_workspace_ids('admin', 'admin')").fetchone()
    with acting_as(db, support.jwt):
        support_ids = db.execute("select private.visible_workspace_ids('member', 'support')").fetchone()
        support_admin_only = db.execute("select private.visible_workspace_ids('admin', 'admin')").fetchone()
    assert owner_ids is not None and owner_admin_ids is not None
    assert owner_ids[0] == [mine.id] and owner_admin_ids[0] == [mine.id]
    assert support_ids is not None and support_admin_only is not None
    assert {mine.id, other.id} <= set(support_ids[0]) and NIL in {str(x) for x in support_ids[0]}
    assert support_admin_only[0] == []
