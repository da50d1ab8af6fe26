"""The dashboard rollup (private.dashboard_daily_totals) equals a recount from call_events,
sms_events and messages (public.dashboard_daily_metrics) after every fold, and
platform_daily_metrics is exact at any moment: folded days plus what is not folded yet. An
event still uncommitted under a lower fold_id is folded later, never skipped or counted twice;
the history stored before fold_id existed is folded day by day in bounded steps."""

from __future__ import annotations

import datetime
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, Workspace, acting_as
from harness.rpc import ANON, SERVICE_ROLE
from harness.testing import Connect
from tests.jobs.test_weekly_insights import at, call, message, sms

SERIES = (
    "calls", "call_minutes", "failed_calls", "sms_inbound", "sms_outbound", "failed_sms",
    "messages_inbound", "messages_outbound",
)
TODAY = datetime.datetime.now(datetime.UTC).date()
DAYS = [TODAY - datetime.timedelta(days=n) for n in (9, 3, 1)]
FIRST = DAYS[0] - datetime.timedelta(days=5)  # the range every read asks for
RECOUNT = f"""
    select day, workspace_id, {", ".join(SERIES)} from public.dashboard_daily_metrics order by 1, 2
"""
TOTALS = f"""
    select day, workspace_id, {", ".join(SERIES)} from private.dashboard_daily_totals order by 1, 2
"""
DAY_RECOUNT = f"""
    select day, {", ".join(f"sum({s})" for s in SERIES)} from public.dashboard_daily_metrics group by 1 order by 1
"""
DAY_TOTALS = f"""
    select day, {", ".join(SERIES)} from private.dashboard_platform_totals order by 1
"""
PER_DAY = f"""
    select day, {", ".join(f"sum({s})::bigint" for s in SERIES)}, sum(errors)::bigint
    from public.dashboard_daily_metrics
    where day between %(from)s and %(to)s and (%(ws)s::uuid is null or workspace_id = %(ws)s::uuid)
    group by day order by day
"""
PLATFORM = f"""
    select day, {", ".join(SERIES)}, errors
    from public.platform_daily_metrics(from_day => %(from)s, to_day => %(to)s, workspace_id => %(ws)s)
"""


def _rows(conn: psycopg.Connection, query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(query, params).fetchall()]


def _fold(conn: psycopg.Connection, max_events: int = 500000) -> dict[str, Any]:
    row = conn.execute("select private.fold_dashboard_rollups(%s)", (max_events,)).fetchone()
    assert row is not None
    return row[0]


def _fold_everything(conn: psycopg.Connection) -> None:
    """A reading, then the fold it allows (nothing else runs in the test's database)."""
    _fold(conn)
    _fold(conn)


def _assert_totals_equal_a_recount(conn: psycopg.Connection) -> None:
    """Per day and workspace, and per day over every workspace."""
    assert _rows(conn, TOTALS) == _rows(conn, RECOUNT)
    assert _rows(conn, DAY_TOTALS) == _rows(conn, DAY_RECOUNT)


def _platform(db: psycopg.Connection, staff: Any, ws: Workspace | None = None) -> list[tuple[Any, ...]]:
    """platform_daily_metrics as ``staff`` over every day of the test, and the recount it must equal."""
    params = {"from": FIRST, "to": TODAY, "ws": ws.id if ws else None}
    with acting_as(db, staff.jwt) as conn:
        seen = _rows(conn, PLATFORM, params)
    assert seen == _rows(db, PER_DAY, params)
    return seen


def _seed(db: psycopg.Connection, factories: Factories, ws: Workspace, day: datetime.date) -> None:
    call(db, ws, "completed", at(day), minutes=3)
    call(db, ws, "ringing", at(day))  # not ended: not a call
    call(db, ws, "failed", at(day, 13))
    sms(db, ws, "received", "inbound", at(day))
    sms(db, ws, "sent", "outbound", at(day, 23.99))
    sms(db, ws, "undelivered", "outbound", at(day))
    message(db, factories, ws, "inbound", at(day))
    message(db, factories, ws, "outbound", at(day, 0.01))


@pytest.fixture
def workspaces(db: psycopg.Connection, factories: Factories) -> list[Workspace]:
    """Events of three workspaces over three days."""
    spaces = [factories.workspace() for _ in range(3)]
    for n, ws in enumerate(spaces):
        for day in DAYS[n:]:
            _seed(db, factories, ws, day)
    return spaces


def test_folded_totals_equal_a_recount_and_the_function_is_exact_before_and_after(
    db: psycopg.Connection, factories: Factories, workspaces: list[Workspace]
) -> None:
    admin = factories.platform_admin()
    before = _platform(db, admin)  # nothing folded yet: every count from the events
    assert _rows(db, TOTALS) == [] and _rows(db, DAY_TOTALS) == []
    _fold_everything(db)
    _assert_totals_equal_a_recount(db)
    # New events after a fold: one on a folded day and workspace, one dated on an earlier day, read live.
    call(db, workspaces[0], "completed", at(DAYS[2]), minutes=5)
    message(db, factories, workspaces[1], "outbound", at(DAYS[0] - datetime.timedelta(days=2)))
    after = _platform(db, admin)
    assert _platform(db, factories.support(), workspaces[1])

    assert len(after) == len(before) + 1 and after != before
    assert all(row[4] and row[5] and row[7] for row in before), "SMS and message series are counted for staff"
    _fold_everything(db)
    _assert_totals_equal_a_recount(db)
    assert _platform(db, admin) == after


def test_an_event_still_uncommitted_under_a_lower_fold_id_is_folded_later_once(
    db: psycopg.Connection, factories: Factories, connect: Connect, workspaces: list[Workspace]
) -> None:
    admin = factories.platform_admin()
    _fold_everything(db)
    slow = connect(autocommit=False)
    sms(slow, workspaces[2], "received", "inbound", at(DAYS[1]))  # takes the lower fold_id, commits last
    sms(db, workspaces[0], "sent", "outbound", at(DAYS[1]))  # a higher one, committed

    reading = _fold(db)
    waiting = _fold(db)  # the slow transaction started before the reading: nothing above the watermark is final

    assert waiting["folded_events"] == 0 and waiting["waiting_for"] is not None
    assert waiting["folded_through"] == reading["folded_through"]
    _platform(db, admin)  # exact meanwhile: the committed event is read above the watermark
    slow.commit()
    _platform(db, admin)
    _fold_everything(db)
    _fold_everything(db)
    _assert_totals_equal_a_recount(db)
    events = db.execute("select count(*) from private.dashboard_events").fetchone()
    assert db.execute("select sum(event_count) from private.dashboard_daily_totals").fetchone() == events


def test_the_history_before_fold_ids_is_folded_day_by_day_in_bounded_steps(
    db: psycopg.Connection, factories: Factories, workspaces: list[Workspace]
) -> None:
    # The rows of a database migrated with history: stored before fold_id existed, so without one.
    for table in ("call_events", "sms_events", "messages"):
        db.execute(f"alter table public.{table} drop constraint {table}_fold_id_check")
        db.execute(f"update public.{table} set fold_id = null")
        db.execute(f"alter table public.{table} add constraint {table}_fold_id_check check (fold_id is not null) not valid")
    call(db, workspaces[2], "completed", at(DAYS[0]), minutes=7)  # recorded since: a fold_id, on a history day
    admin = factories.platform_admin()
    per_day = db.execute(
        "select count(*) from private.dashboard_events where fold_id is null group by event_at::date"
    ).fetchall()

    steps = [_fold(db, max_events=1) for _ in range(6)]

    # Each run folds what it may of the new events first, then whole history days with what is left: at most
    # one day here, oldest first, each day once.
    through = [s["history_through"] for s in steps]
    assert sorted(set(through)) == [d.isoformat() for d in DAYS] and through == sorted(through)
    assert sum(s["history_folded_events"] for s in steps) == sum(n for (n,) in per_day)
    assert max(s["history_folded_events"] for s in steps) == max(n for (n,) in per_day)
    assert steps[-1]["history_done"] and not steps[0]["history_done"]
    _platform(db, admin)
    _fold_everything(db)
    _assert_totals_equal_a_recount(db)
    assert _platform(db, admin)


def test_only_platform_staff_may_read_the_platform_counts(
    db: psycopg.Connection, factories: Factories, workspaces: list[Workspace]
) -> None:
    member = factories.member(workspaces[0])
    for jwt in (member.jwt, workspaces[0].owner.jwt, ANON, SERVICE_ROLE):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, jwt) as conn:
            conn.execute(PLATFORM, {"from": DAYS[0], "to": TODAY, "ws": workspaces[0].id})
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid_range"), acting_as(
        db, factories.support().jwt
    ) as conn:
        conn.execute(PLATFORM, {"from": TODAY, "to": DAYS[0], "ws": None})


def test_the_fold_runs_every_minute_under_pg_cron(db: psycopg.Connection) -> None:
    job = db.execute("select schedule, command from cron.job where jobname = 'dashboard-rollups'").fetchone()
    assert job == ("* * * * *", "select private.fold_dashboard_rollups()")
