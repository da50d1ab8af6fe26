"""Read policies on the tenancy tables evaluate their membership helper once per
statement (an InitPlan), never once per row (a correlated SubPlan): the plan's
shape is what keeps a member's listing cheap as tables grow."""

from __future__ import annotations

import json

import psycopg
import pytest

from harness.factories import Factories, acting_as

TABLES = [
    "workspaces",
    "workspace_users",
    "alerts",
    "audit_logs",
    "agents",
    "agent_channels",
    "connectors",
    "conversations",
    "messages",
    "workspace_api_keys",
    "external_api_audit_logs",
]


def plan_nodes(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


@pytest.mark.parametrize("table", TABLES)
def test_read_policy_runs_its_helper_once_per_statement(
    db: psycopg.Connection, factories: Factories, table: str
) -> None:
    ws = factories.workspace()
    with acting_as(db, ws.owner.jwt):
        row = db.execute(f"explain (format json) select * from public.{table}").fetchone()
    assert row is not None
    nodes = plan_nodes(json.loads(row[0])[0]["Plan"] if isinstance(row[0], str) else row[0][0]["Plan"])
    relations = [n.get("Parent Relationship") for n in nodes]
    assert "SubPlan" not in relations, f"{table}: a policy helper runs per row"
    assert "InitPlan" in relations
