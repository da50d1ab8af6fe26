"""Reading query plans in tests: EXPLAIN (FORMAT JSON) of a statement, or of the
statements a function runs (auto_explain, nested statements), as node lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.abc import Params

Node = dict[str, Any]


def nodes(plan: Node) -> list[Node]:
    """The plan node and every node below it, depth first."""
    found = [plan]
    for child in plan.get("Plans", []):
        found += nodes(child)
    return found


def explain(conn: psycopg.Connection, query: str, params: Params = ()) -> Node:
    """The top plan node of ``query`` (not executed)."""
    row = conn.execute(f"explain (format json) {query}", params).fetchone()
    assert row is not None
    document = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return document[0]["Plan"]


@contextmanager
def nested_plans(conn: psycopg.Connection) -> Iterator[list[Node]]:
    """Collect the plans of every statement run inside the block, functions' included.

    auto_explain logs each finished statement's plan; the session receives the
    log lines as notices (client_min_messages = log). Superuser only (LOAD).
    """
    collected: list[Node] = []

    def on_notice(diagnostic: psycopg.errors.Diagnostic) -> None:
        text = diagnostic.message_primary or ""
        start = text.find("{")
        if text.startswith("duration:") and start >= 0:
            collected.append(json.loads(text[start:])["Plan"])

    conn.execute("load 'auto_explain'")
    conn.execute(
        "set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;"
        " set auto_explain.log_format = 'json'; set client_min_messages = log"
    )
    conn.add_notice_handler(on_notice)
    try:
        yield collected
    finally:
        conn.remove_notice_handler(on_notice)
        conn.execute("reset auto_explain.log_min_duration; reset client_min_messages")


def scans_of(plan: Node, table: str) -> list[Node]:
    return [n for n in nodes(plan) if n.get("Relation Name") == table]


def assert_keyset_plan(plan: Node, table: str, index: str | tuple[str, ...], cursor: str = "ROW(") -> None:
    """The rows come from ``index`` (or one of them), in its order, starting at the cursor:
    no sequential scan, no sort, a limit on top, and the cursor in the index condition."""
    indexes = (index,) if isinstance(index, str) else index
    kinds = [n["Node Type"] for n in nodes(plan)]
    shown = json.dumps(plan, indent=1, default=str)
    assert "Seq Scan" not in kinds, shown
    assert "Sort" not in kinds, shown
    assert kinds[0] == "Limit", shown
    scans = scans_of(plan, table)
    assert len(scans) == 1, shown
    assert scans[0]["Node Type"] in ("Index Scan", "Index Only Scan"), shown
    assert scans[0].get("Index Name") in indexes, shown
    assert cursor in scans[0].get("Index Cond", ""), shown
