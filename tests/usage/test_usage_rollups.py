"""The usage rollups (private.usage_daily_totals, private.usage_period_totals) equal a
recount from usage_events: after folding, and as live views (folded totals plus the
events not folded yet) at any moment. The fold takes only events whose transactions
have ended: an event still uncommitted under a lower id is never skipped."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from harness.factories import Factories
from harness.rows import scalar
from harness.rpc import call
from harness.testing import Connect

DAILY_RECOUNT = """
    select e.workspace_id, (e.occurred_at at time zone 'UTC')::date, e.metric, e.period_start, e.tier_snapshot_id,
        e.source, sum(e.quantity), count(*), min(e.id), max(e.id)
    from public.usage_events as e
    group by 1, 2, 3, 4, 5, 6
    order by 1, 2, 3, 4, 5, 6 nulls first
"""
DAILY_TOTALS = """
    select workspace_id, usage_date, metric, period_start, tier_snapshot_id, source, quantity, event_count,
        first_event_id, last_event_id
    from private.usage_daily_totals
    order by 1, 2, 3, 4, 5, 6 nulls first
"""
DAILY_LIVE = """
    select workspace_id, usage_date, metric, period_start, tier_snapshot_id, source, sum(quantity), sum(event_count),
        min(first_event_id), max(last_event_id)
    from private.usage_daily_live
    group by 1, 2, 3, 4, 5, 6
    order by 1, 2, 3, 4, 5, 6 nulls first
"""
PERIOD_RECOUNT = """
    select e.workspace_id, e.period_start, e.metric, e.tier_snapshot_id, sum(e.quantity), count(*), min(e.id), max(e.id)
    from public.usage_events as e
    group by 1, 2, 3, 4
    order by 1, 2, 3, 4
"""
PERIOD_TOTALS = """
    select workspace_id, period_start, metric, tier_snapshot_id, quantity, event_count, first_event_id, last_event_id
    from private.usage_period_totals
    order by 1, 2, 3, 4
"""
PERIOD_LIVE = """
    select workspace_id, period_start, metric, tier_snapshot_id, sum(quantity), sum(event_count), min(first_event_id),
        max(last_event_id)
    from private.usage_period_live
    group by 1, 2, 3, 4
    order by 1, 2, 3, 4
"""


def _rows(conn: psycopg.Connection, query: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(query).fetchall()]


def _fold(conn: psycopg.Connection, max_events: int = 500000) -> dict[str, Any]:
    row = conn.execute("select private.fold_usage_rollups(%s)", (max_events,)).fetchone()
    assert row is not None
    return row[0]


def _fold_everything(conn: psycopg.Connection) -> None:
    """A reading, then the fold it allows (nothing else runs in the test's database)."""
    _fold(conn)
    _fold(conn)


def _record(
    conn: psycopg.Connection, workspace_id: Any, metric: str, quantity: float, source: str | None = None
) -> None:
    call(conn, "record_usage", {"workspace_id": str(workspace_id), "metric": metric, "quantity": quantity, "source": source})


@pytest.fixture
def usage(db: psycopg.Connection, factories: Factories) -> list[Any]:
    """Usage of two workspaces over several metrics, sources, days and two tier snapshots."""
    a, b = factories.workspace(plan_key="business"), factories.workspace(plan_key="pro")
    for n in range(6):
        _record(db, a.id, "sms", 1, "twilio" if n % 2 else None)
        _record(db, b.id, "llm_tokens", 1000 + n, "openai")
    _record(db, a.id, "call_minutes", 2.5, "twilio")
    # A plan change mid-period: later usage bills under a second snapshot.
    db.execute("update public.workspaces set plan_key = 'pro' where id = %s", (a.id,))
    db.execute("select private.on_plan_change(%s, 'pro', 'probe')", (a.id,))
    _record(db, a.id, "sms", 3, "twilio")
    # Events of earlier days and another period (reported late, written as the batch path would).
    db.execute(
        """
        insert into public.usage_events (workspace_id, metric, quantity, period_start, tier_snapshot_id, source,
            occurred_at)
        select e.workspace_id, e.metric, g, date_trunc('month', now() - make_interval(days => 40 * g))::date,
            e.tier_snapshot_id, 'late', now() - make_interval(days => 40 * g)
        from public.usage_events as e, generate_series(1, 3) as g
        where e.id = (select min(id) from public.usage_events)
        """
    )
    return [a, b]


def test_folded_totals_equal_a_recount_from_the_events(db: psycopg.Connection, usage: list[Any]) -> None:
    _fold_everything(db)

    assert _rows(db, DAILY_TOTALS) == _rows(db, DAILY_RECOUNT)
    assert _rows(db, PERIOD_TOTALS) == _rows(db, PERIOD_RECOUNT)
    assert len({r[3] for r in _rows(db, PERIOD_TOTALS) if r[0] == usage[0].id}) == 2, "two snapshots for a"


def test_live_totals_equal_a_recount_before_and_after_every_fold(db: psycopg.Connection, usage: list[Any]) -> None:
    assert _rows(db, DAILY_LIVE) == _rows(db, DAILY_RECOUNT)  # nothing folded yet: all from the events
    _fold_everything(db)
    _record(db, usage[0].id, "sms", 1, "twilio")  # on a folded key
    _record(db, usage[1].id, "messages", 4, None)  # a new key
    assert _rows(db, DAILY_LIVE) == _rows(db, DAILY_RECOUNT)
    assert _rows(db, PERIOD_LIVE) == _rows(db, PERIOD_RECOUNT)
    _fold_everything(db)
    assert _rows(db, DAILY_TOTALS) == _rows(db, DAILY_RECOUNT)
    assert _rows(db, PERIOD_TOTALS) == _rows(db, PERIOD_RECOUNT)


def test_a_backlog_is_folded_in_bounded_steps(db: psycopg.Connection, usage: list[Any]) -> None:
    events = scalar(db, "select count(*) from public.usage_events")
    _fold(db)  # the reading
    folded = [_fold(db, max_events=4)["folded_events"] for _ in range(events // 4 + 2)]

    assert sum(folded) == events and max(folded) <= 4
    assert _rows(db, DAILY_TOTALS) == _rows(db, DAILY_RECOUNT)
    assert _rows(db, PERIOD_LIVE) == _rows(db, PERIOD_RECOUNT)


def test_an_event_still_uncommitted_under_a_lower_id_is_not_skipped(
    db: psycopg.Connection, factories: Factories, connect: Connect
) -> None:
    ws = factories.workspace(plan_key="business")
    _record(db, ws.id, "sms", 1)  # the period's rows exist: the slow path is not in the race
    _fold_everything(db)
    slow = connect(autocommit=False)
    slow.execute("select 1")  # a transaction in progress: the call below is a savepoint inside it
    _record(slow, ws.id, "sms", 10)  # takes the lower id, commits last
    _record(connect(), ws.id, "messages", 100)  # a higher id, committed (another metric: another period row)
    ids = _rows(db, "select id, quantity from public.usage_events order by id")
    assert [q for _, q in ids] == [1, 100]

    reading = _fold(db)
    waiting = _fold(db)  # the slow transaction started before the reading: nothing is final above the watermark

    assert waiting["folded_events"] == 0 and waiting["waiting_for"] is not None
    assert waiting["folded_through"] == reading["folded_through"]
    assert _rows(db, DAILY_LIVE) == _rows(db, DAILY_RECOUNT)  # exact meanwhile: the committed event is in the tail
    slow.commit()
    _fold_everything(db)
    assert _rows(db, DAILY_TOTALS) == _rows(db, DAILY_RECOUNT)
    assert sum(r[6] for r in _rows(db, DAILY_TOTALS)) == 111


def test_billing_lines_do_not_change_when_their_events_are_folded(db: psycopg.Connection, usage: list[Any]) -> None:
    period = scalar(db, "select private.usage_period()")
    before = scalar(db, "select private.generate_all_billing_line_items(%s)", (period,))
    lines = _rows(db, "select * from public.billing_line_items order by id")
    _fold_everything(db)
    after = scalar(db, "select private.generate_all_billing_line_items(%s)", (period,))

    assert before["lines_written"] == len(lines) > 0
    assert after["lines_written"] == 0
    assert _rows(db, "select * from public.billing_line_items order by id") == lines


def test_the_fold_runs_every_minute_under_pg_cron(db: psycopg.Connection) -> None:
    job = db.execute("select schedule, command from cron.job where jobname = 'usage-rollups'").fetchone()
    assert job == ("* * * * *", "select private.fold_usage_rollups()")
