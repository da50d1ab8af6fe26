"""dashboard_daily_metrics: calls, SMS, messages and errors per workspace and UTC day, under the tables' RLS."""

from __future__ import annotations

import datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from harness.factories import Factories, Workspace, acting_as
from harness.rpc import ANON, SERVICE_ROLE
from harness.testing import Rpc
from tests.jobs.test_weekly_insights import PREVIOUS, US, WEEK, at, call, message, seed_week, sms, start, workspace

METRICS = (
    "calls", "call_minutes", "failed_calls", "sms_inbound", "sms_outbound", "failed_sms",
    "messages_inbound", "messages_outbound", "errors",
)
DAY = WEEK
NEXT = WEEK + datetime.timedelta(days=1)


def day_rows(conn: psycopg.Connection, ws: Workspace) -> dict[datetime.date, dict[str, int]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select * from public.dashboard_daily_metrics where workspace_id = %s order by day", (ws.id,)
        ).fetchall()
    return {r["day"]: {m: r[m] for m in METRICS} for r in rows}


def counts(**given: int) -> dict[str, int]:
    return {**{m: 0 for m in METRICS}, **given}


def test_metrics_are_per_workspace_and_utc_day(db: psycopg.Connection, factories: Factories) -> None:
    a, b = factories.workspace(), factories.workspace()
    call(db, a, "completed", start(NEXT) - US, minutes=4)  # the last microsecond of DAY in UTC
    call(db, a, "completed", start(NEXT), minutes=1)  # the first of NEXT
    call(db, a, "ringing", at(DAY))  # not ended: not a call yet
    call(db, a, "busy", at(NEXT))
    call(db, a, "failed", at(NEXT))
    sms(db, a, "received", "inbound", at(DAY))
    sms(db, a, "sent", "outbound", at(DAY))
    sms(db, a, "delivered", "outbound", at(DAY))
    sms(db, a, "queued", "outbound", at(NEXT))
    sms(db, a, "failed", "outbound", at(NEXT))
    sms(db, a, "undelivered", "outbound", at(NEXT))
    message(db, factories, a, "inbound", at(DAY))
    message(db, factories, a, "outbound", at(NEXT))
    call(db, b, "completed", at(DAY), minutes=9)
    # The session's time zone does not move events between days: days are UTC.
    db.execute("set timezone = 'Pacific/Kiritimati'")

    assert day_rows(db, a) == {
        DAY: counts(calls=1, call_minutes=4, sms_inbound=1, sms_outbound=1, messages_inbound=1),
        NEXT: counts(calls=3, call_minutes=1, failed_calls=1, failed_sms=2, messages_outbound=1, errors=3),
    }
    assert day_rows(db, b) == {DAY: counts(calls=1, call_minutes=9)}


def test_a_member_sees_only_their_workspaces_rows(db: psycopg.Connection, factories: Factories) -> None:
    a, b = factories.workspace(), factories.workspace()
    member_a, member_b = factories.member(a), factories.member(b)
    for ws, minutes in ((a, 2), (b, 3)):
        call(db, ws, "completed", at(DAY), minutes=minutes)
        message(db, factories, ws, "inbound", at(DAY))

    def seen(jwt: Any) -> dict[Any, tuple[int, int]]:
        with acting_as(db, jwt) as conn:
            rows = conn.execute(
                "select workspace_id, call_minutes, messages_inbound from public.dashboard_daily_metrics"
            ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    assert seen(member_a.jwt) == {a.id: (2, 1)}
    assert seen(member_b.jwt) == {b.id: (3, 1)}
    assert seen(a.owner.jwt) == {a.id: (2, 1)}
    assert seen(factories.user().jwt) == {}
    assert seen(SERVICE_ROLE) == {a.id: (2, 1), b.id: (3, 1)}
    # Platform admins read every workspace's calls; message rows stay member-only PII.
    assert seen(factories.platform_admin().jwt) == {a.id: (2, 0), b.id: (3, 0)}


def test_anon_reads_nothing_and_nobody_writes_through_it(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    call(db, ws, "completed", at(DAY), minutes=1)
    for relation in ("public.dashboard_daily_metrics", "private.dashboard_events"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, ANON) as conn:
            conn.execute(f"select count(*) from {relation}")
    privileges = db.execute(
        "select r.rolname, p.privilege, has_table_privilege(r.rolname, 'public.dashboard_daily_metrics', p.privilege)"
        " from pg_roles as r, unnest(array['select', 'insert', 'update', 'delete']) as p (privilege)"
        " where r.rolname in ('anon', 'authenticated', 'service_role') and"
        " has_table_privilege(r.rolname, 'public.dashboard_daily_metrics', p.privilege)"
        " order by 1, 2"
    ).fetchall()
    assert privileges == [("authenticated", "select", True), ("service_role", "select", True)]


def test_weekly_insights_agree_with_the_dashboard_days_of_the_week(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = workspace(db, factories)
    seed_week(db, factories, ws, WEEK)
    seed_week(db, factories, ws, PREVIOUS)
    rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})

    days = db.execute(
        "select " + ", ".join(f"sum({m})::integer" for m in METRICS)
        + " from public.dashboard_daily_metrics where workspace_id = %s and day >= %s and day < %s",
        (ws.id, WEEK, WEEK + datetime.timedelta(days=7)),
    ).fetchone()
    weekly = db.execute(
        "select " + ", ".join(METRICS) + " from public.weekly_insights where workspace_id = %s and week_start = %s",
        (ws.id, WEEK),
    ).fetchone()

    assert days == weekly
    assert days is not None and all(v > 0 for v in days)


def test_the_range_function_returns_the_views_rows_for_those_days_only(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = workspace(db, factories)
    seed_week(db, factories, ws, PREVIOUS)
    seed_week(db, factories, ws, WEEK)
    first, last = WEEK, WEEK + datetime.timedelta(days=6)

    rows = rpc("dashboard_metrics", {"workspace_id": str(ws.id), "from_day": str(first), "to_day": str(last)})

    expected = {d: r for d, r in day_rows(db, ws).items() if first <= d <= last}
    assert {datetime.date.fromisoformat(r["day"]): {m: r[m] for m in METRICS} for r in rows} == expected
    assert [r["day"] for r in rows] == sorted(r["day"] for r in rows)
    assert expected and min(day_rows(db, ws)) < first  # the week before exists and was left out


def test_the_range_function_applies_rls_to_members(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    a, b = factories.workspace(), factories.workspace()
    call(db, a, "completed", at(DAY), minutes=2)
    args = {"workspace_id": str(a.id), "from_day": str(DAY), "to_day": str(DAY)}

    assert [r["call_minutes"] for r in rpc("dashboard_metrics", args, as_=a.owner.jwt)] == [2]
    assert rpc("dashboard_metrics", args, as_=factories.member(b).jwt) == []


@pytest.mark.parametrize(
    ("from_day", "to_day"),
    [(None, "2026-11-01"), ("2026-11-02", "2026-11-01"), ("2025-01-01", "2026-01-02")],
    ids=["null_bound", "reversed", "over_366_days"],
)
def test_the_range_function_refuses_bad_ranges(rpc: Rpc, factories: Factories, from_day: Any, to_day: Any) -> None:
    from harness.rpc import RpcError

    ws = factories.workspace()
    with pytest.raises(RpcError) as err:
        rpc("dashboard_metrics", {"workspace_id": str(ws.id), "from_day": from_day, "to_day": to_day})
    assert (err.value.sqlstate, err.value.message) == ("22023", "invalid_range")


def test_the_range_function_reads_the_events_through_their_time_indexes(
    db: psycopg.Connection, factories: Factories
) -> None:
    ws = factories.workspace()
    db.execute("set enable_seqscan = off")  # a range the indexes cannot answer would still scan
    plan = "\n".join(
        r[0] for r in db.execute(
            "explain select * from private.dashboard_events where workspace_id = %s"
            " and event_at >= %s and event_at < %s",
            (ws.id, start(DAY), start(NEXT)),
        )
    )
    assert "Seq Scan" not in plan, plan
    assert plan.count("Index") >= 3, plan
