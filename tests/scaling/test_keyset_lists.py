"""Every list staff or the API page through is keyset-paged on (time, id) and read
from an index in that order: the plan of each documented query (docs/paging.md) is
a Limit over an index scan, with no sequential scan and no sort, on tables holding
enough rows that the planner would rather scan and sort if the index were missing.
Each query runs as the caller who pages through it, so RLS is part of the plan.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, User, Workspace, acting_as
from tests.scaling.plans import assert_keyset_plan, explain, nested_plans, scans_of

ROWS = 20000
WORKSPACES = 100


@dataclass
class Tenants:
    workspace: Workspace  # the one a member pages through
    member: User
    ids: list[uuid.UUID]  # every workspace, the first one included


@pytest.fixture
def tenants(db: psycopg.Connection, factories: Factories) -> Tenants:
    ws = factories.workspace()
    member = factories.member(ws)
    owner = factories.user()
    others = db.execute(
        """
        insert into public.workspaces (name, owner_id)
        select 'tenant ' || g, %s from generate_series(2, %s) as g
        returning id
        """,
        (owner.id, WORKSPACES),
    ).fetchall()
    return Tenants(ws, member, [ws.id, *(r[0] for r in others)])


def _seed(db: psycopg.Connection, tenants: Tenants, table: str) -> None:
    ids = [str(i) for i in tenants.ids]
    # Rows over 30 days and every workspace, three in ten in the first one (a big tenant, whose pages
    # must not cost its whole history); ten rows share each time, so the id really is the tie-break.
    at = "now() - ((%s - g) / 10 * 10) * interval '2 minutes'" % ROWS
    ws = f"(%s::uuid[])[case when g %% 10 < 3 then 1 else 1 + g %% {len(ids)} end]"
    if table == "messages":
        db.execute(
            f"""
            insert into public.conversations (workspace_id, channel_type, external_thread_id)
            select w, 'webchat', 'thread' from unnest(%s::uuid[]) as w
            """,
            (ids,),
        )
        db.execute(
            f"""
            insert into public.messages (workspace_id, conversation_id, direction, body, created_at)
            select {ws}, c.id, 'inbound', 'hello ' || g, {at}
            from generate_series(1, {ROWS}) as g
            join public.conversations as c on c.workspace_id = {ws}
            """,
            (ids, ids),
        )
    elif table == "webhook_queue":
        db.execute(
            f"""
            insert into public.webhook_queue (provider, idempotency_key, status, payload, received_at)
            select 'twilio', 'sms:SM' || g,
                -- Mostly processed, as in production; a few percent need attention.
                case g % 100 when 0 then 'failed' when 1 then 'dead_letter' when 2 then 'rejected'
                    when 3 then 'duplicate' else 'processed' end,
                '{{}}', {at}
            from generate_series(1, {ROWS}) as g
            """
        )
    elif table == "alerts":
        db.execute(
            f"""
            insert into public.alerts (type, workspace_id, dedupe_key, message, created_at, acknowledged_at)
            select 'probe', case when g %% 7 = 0 then null else {ws} end, 'probe:' || g, 'probe', {at}, {at}
            from generate_series(1, {ROWS}) as g
            """,
            (ids,),
        )
    elif table == "audit_logs":
        db.execute(
            f"""
            insert into public.audit_logs (occurred_at, actor_role, action, target_table, workspace_id)
            select {at}, 'postgres', 'probe', 'agents', case when g %% 7 = 0 then null else {ws} end
            from generate_series(1, {ROWS}) as g
            """,
            (ids,),
        )
    elif table == "wallet_ledger":
        db.execute(
            f"""
            insert into public.wallet_ledger (workspace_id, kind, amount, balance_after, reason, actor_role, created_at)
            select {ws}, 'grant', 1, g, 'probe', 'service_role', {at}
            from generate_series(1, {ROWS}) as g
            """,
            (ids,),
        )
    db.execute(f"analyze public.{table}")


def _cursor(db: psycopg.Connection, query: str, params: tuple[Any, ...]) -> tuple[Any, Any]:
    """The key of a row in the middle of the list: the cursor of a page far from the first."""
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row[0], row[1]


@dataclass(frozen=True)
class KeysetList:
    name: str
    table: str
    index: str | tuple[str, ...]  # one index, or either (the planner picks by the tenant's share of rows)
    caller: str  # member, owner, support, platform_admin
    query: str  # with %(ws)s, %(at)s, %(id)s; the documented keyset query
    cursor: str  # a middle row's (time, id) among the rows the list covers
    cursor_condition: str = "ROW("  # how the cursor shows in the index condition


LISTS = [
    KeysetList(
        "messages of one workspace",
        "messages",
        ("messages_workspace_latest_idx", "messages_latest_idx"),
        "member",
        "select * from public.messages where workspace_id = %(ws)s and (created_at, id) < (%(at)s, %(id)s)"
        " order by created_at desc, id desc limit 50",
        "select created_at, id from public.messages where workspace_id = %s order by created_at, id offset 3000 limit 1",
    ),
    KeysetList(
        "messages of one workspace, PostgREST filters",
        "messages",
        ("messages_workspace_latest_idx", "messages_latest_idx"),
        "member",
        "select * from public.messages where workspace_id = %(ws)s and created_at <= %(at)s"
        " and (created_at < %(at)s or id < %(id)s) order by created_at desc, id desc limit 50",
        "select created_at, id from public.messages where workspace_id = %s order by created_at, id offset 3000 limit 1",
        "created_at <=",
    ),
    KeysetList(
        "webhooks that need attention, by status and time",
        "webhook_queue",
        "webhook_queue_status_received_idx",
        "platform_admin",
        "select * from public.webhook_queue where status = 'failed' and (received_at, id) < (%(at)s, %(id)s)"
        " order by received_at desc, id desc limit 50",
        "select received_at, id from public.webhook_queue where status = 'failed' and %s::uuid is not null"
        " order by received_at, id offset 100 limit 1",
    ),
    KeysetList(
        "webhooks by time",
        "webhook_queue",
        "webhook_queue_received_idx",
        "platform_admin",
        "select * from public.webhook_queue where (received_at, id) < (%(at)s, %(id)s)"
        " order by received_at desc, id desc limit 50",
        "select received_at, id from public.webhook_queue where %s::uuid is not null"
        " order by received_at, id offset 10000 limit 1",
    ),
    KeysetList(
        "alerts of one workspace",
        "alerts",
        ("alerts_workspace_latest_idx", "alerts_latest_idx"),
        "member",
        "select * from public.alerts where workspace_id = %(ws)s and (created_at, id) < (%(at)s, %(id)s)"
        " order by created_at desc, id desc limit 50",
        "select created_at, id from public.alerts where workspace_id = %s order by created_at, id offset 3000 limit 1",
    ),
    KeysetList(
        "ledger of one workspace",
        "wallet_ledger",
        "wallet_ledger_pkey",
        "member",
        "select * from public.wallet_ledger where workspace_id = %(ws)s and id < %(id)s order by id desc limit 50",
        "select created_at, id from public.wallet_ledger where workspace_id = %s order by id offset 3000 limit 1",
        "id <",
    ),
    KeysetList(
        "audit logs of every workspace",
        "audit_logs",
        "audit_logs_latest_idx",
        "platform_admin",
        "select * from public.audit_logs where (occurred_at, id) < (%(at)s, %(id)s)"
        " order by occurred_at desc, id desc limit 50",
        "select occurred_at, id from public.audit_logs where %s::uuid is not null"
        " order by occurred_at, id offset 10000 limit 1",
    ),
    KeysetList(
        "audit logs of one workspace",
        "audit_logs",
        ("audit_logs_workspace_latest_idx", "audit_logs_latest_idx"),
        "owner",
        "select * from public.audit_logs where workspace_id = %(ws)s and (occurred_at, id) < (%(at)s, %(id)s)"
        " order by occurred_at desc, id desc limit 50",
        "select occurred_at, id from public.audit_logs where workspace_id = %s order by occurred_at, id offset 3000 limit 1",
    ),
]


def _caller(factories: Factories, tenants: Tenants, caller: str) -> User:
    if caller == "member":
        return tenants.member
    if caller == "owner":
        return tenants.workspace.owner
    if caller == "support":
        return factories.support()
    return factories.platform_admin()


@pytest.mark.parametrize("keyset", LISTS, ids=[k.name for k in LISTS])
def test_keyset_list_reads_its_index_in_order(
    db: psycopg.Connection, factories: Factories, tenants: Tenants, keyset: KeysetList
) -> None:
    _seed(db, tenants, keyset.table)
    at, id_ = _cursor(db, keyset.cursor, (tenants.workspace.id,))
    caller = _caller(factories, tenants, keyset.caller)
    params = {"ws": tenants.workspace.id, "at": at, "id": id_}
    with acting_as(db, caller.jwt):
        plan = explain(db, keyset.query, params)
        page = db.execute(keyset.query, params).fetchall()
    assert_keyset_plan(plan, keyset.table, keyset.index, keyset.cursor_condition)
    assert len(page) == 50


def test_staff_latest_messages_read_the_index_from_the_cursor(
    db: psycopg.Connection, factories: Factories, tenants: Tenants
) -> None:
    _seed(db, tenants, "messages")
    support = factories.support()
    at, id_ = _cursor(
        db, "select created_at, id from public.messages order by created_at, id offset 10000 limit 1", ()
    )
    with nested_plans(db) as plans, acting_as(db, support.jwt):
        every = db.execute(
            "select * from public.list_messages_masked(before_created_at => %s, before_id => %s)", (at, id_)
        ).fetchall()
        one = db.execute(
            "select * from public.list_messages_masked(workspace_id => %s, max_count => 20)",
            (tenants.workspace.id,),
        ).fetchall()
    reads = [p for p in plans if scans_of(p, "messages")]
    assert len(reads) == 2
    assert_keyset_plan(reads[0], "messages", "messages_latest_idx")
    assert_keyset_plan(reads[1], "messages", "messages_workspace_latest_idx")
    assert len(every) == 50 and len(one) == 20
    assert all(r[5].startswith("h**** ") for r in every), "bodies are masked"


def test_staff_alerts_read_the_index_from_the_cursor(
    db: psycopg.Connection, factories: Factories, tenants: Tenants
) -> None:
    _seed(db, tenants, "alerts")
    support = factories.support()
    ws = tenants.workspace.id
    at, id_ = _cursor(db, "select created_at, id from public.alerts order by created_at, id offset 10000 limit 1", ())
    with nested_plans(db) as plans, acting_as(db, support.jwt):
        every = db.execute(
            "select id from public.list_alerts(before_created_at => %s, before_id => %s)", (at, id_)
        ).fetchall()
        one = db.execute(
            "select workspace_id from public.list_alerts(workspace_id => %s, state => 'open', max_count => 20)", (ws,)
        ).fetchall()
    reads = [p for p in plans if scans_of(p, "alerts")]
    assert len(reads) == 2
    assert_keyset_plan(reads[0], "alerts", "alerts_latest_idx")
    assert_keyset_plan(reads[1], "alerts", ("alerts_workspace_latest_idx", "alerts_latest_idx"))
    expected = db.execute(
        "select id from public.alerts where (created_at, id) < (%s, %s) order by created_at desc, id desc limit 50",
        (at, id_),
    ).fetchall()
    assert every == expected
    assert len(one) == 20 and {r[0] for r in one} == {ws}


def test_staff_alert_list_filters_by_state_and_refuses_others(
    db: psycopg.Connection, factories: Factories, tenants: Tenants
) -> None:
    rows = db.execute(
        """
        insert into public.alerts (type, workspace_id, dedupe_key, message, created_at, acknowledged_at,
            resolved_at, resolution)
        values
            ('probe', null, 'new', 'new', now() - interval '4 minutes', null, null, null),
            ('probe', %(ws)s, 'taken', 'taken', now() - interval '3 minutes', now(), null, null),
            ('probe', %(ws)s, 'done', 'done', now() - interval '2 minutes', now(), now(), 'auto: cleared')
        returning dedupe_key, id
        """,
        {"ws": tenants.workspace.id},
    ).fetchall()
    ids: dict[str, int] = {key: alert_id for key, alert_id in rows}
    support = factories.support()

    def listed(state: str) -> list[int]:
        with acting_as(db, support.jwt):
            return [r[0] for r in db.execute("select id from public.list_alerts(state => %s)", (state,)).fetchall()]

    assert listed("all") == [ids["done"], ids["taken"], ids["new"]]
    assert listed("open") == [ids["taken"], ids["new"]]
    assert listed("unacknowledged") == [ids["new"]]
    assert listed("resolved") == [ids["done"]]
    for bad, word in (
        ("select * from public.list_alerts(state => 'closed')", "invalid_state"),
        ("select * from public.list_alerts(before_id => 1)", "invalid_cursor"),
        ("select * from public.list_alerts(max_count => 0)", "invalid_max_count"),
    ):
        with acting_as(db, support.jwt), pytest.raises(psycopg.errors.InvalidParameterValue, match=word):
            db.execute(bad)
    with acting_as(db, tenants.member.jwt), pytest.raises(psycopg.errors.InsufficientPrivilege, match="not_allowed"):
        db.execute("select * from public.list_alerts(workspace_id => %s)", (tenants.workspace.id,))


def test_paging_with_the_keyset_returns_every_row_once_in_order(
    db: psycopg.Connection, factories: Factories, tenants: Tenants
) -> None:
    _seed(db, tenants, "messages")
    expected = db.execute(
        "select id from public.messages where workspace_id = %s order by created_at desc, id desc",
        (tenants.workspace.id,),
    ).fetchall()
    seen: list[uuid.UUID] = []
    cursor: tuple[datetime, uuid.UUID] | None = None
    with acting_as(db, tenants.member.jwt):
        while True:
            if cursor is None:
                rows = db.execute(
                    "select created_at, id from public.messages where workspace_id = %s"
                    " order by created_at desc, id desc limit 70",
                    (tenants.workspace.id,),
                ).fetchall()
            else:
                rows = db.execute(
                    "select created_at, id from public.messages where workspace_id = %s"
                    " and (created_at, id) < (%s, %s) order by created_at desc, id desc limit 70",
                    (tenants.workspace.id, *cursor),
                ).fetchall()
            if not rows:
                break
            seen += [r[1] for r in rows]
            cursor = (rows[-1][0], rows[-1][1])
    assert seen == [r[0] for r in expected]
    assert len(expected) > ROWS // 4


def test_staff_message_list_refuses_others_and_half_cursors(
    db: psycopg.Connection, factories: Factories, tenants: Tenants
) -> None:
    with acting_as(db, tenants.member.jwt), pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("select * from public.list_messages_masked()")
    support = factories.support()
    with acting_as(db, support.jwt), pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid_cursor"):
        db.execute("select * from public.list_messages_masked(before_created_at => now())")
    with acting_as(db, support.jwt), pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid_max_count"):
        db.execute("select * from public.list_messages_masked(max_count => 501)")
