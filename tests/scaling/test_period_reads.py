"""Dashboards and jobs read the period they report on: a day of the dashboard view,
for every workspace, reads that day's calls, SMS and messages from their BRIN
indexes on the UTC day, and nightly billing reads the month's usage totals and
the tier snapshots they name, whatever history lies beside them."""

from __future__ import annotations

import psycopg

from harness.factories import Factories
from tests.scaling.plans import explain, nested_plans, nodes, scans_of

DAY_INDEXES = {
    "call_events": "call_events_day_brin_idx",
    "sms_events": "sms_events_day_brin_idx",
    "messages": "messages_day_brin_idx",
}
DAYS = 120
PER_DAY = 200


def test_a_dashboard_day_reads_that_day_from_each_source(db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    conversation = db.execute(
        "insert into public.conversations (workspace_id, channel_type, external_thread_id)"
        " values (%s, 'webchat', 'thread') returning id",
        (ws.id,),
    ).fetchone()
    assert conversation is not None
    # A history of DAYS days, written in time order as ingestion writes it.
    at = f"now() - interval '{DAYS} days' + g * interval '{86400 // PER_DAY} seconds'"
    rows = DAYS * PER_DAY
    db.execute(
        f"insert into public.call_events (workspace_id, call_sid, call_status, billable_minutes, occurred_at)"
        f" select %s, 'CA' || g, 'completed', 1, {at} from generate_series(1, {rows}) as g",
        (ws.id,),
    )
    db.execute(
        f"insert into public.sms_events (workspace_id, message_sid, sms_status, direction, occurred_at)"
        f" select %s, 'SM' || g, 'received', 'inbound', {at} from generate_series(1, {rows}) as g",
        (ws.id,),
    )
    db.execute(
        f"insert into public.messages (workspace_id, conversation_id, direction, body, created_at)"
        f" select %s, %s, 'inbound', 'hello', {at} from generate_series(1, {rows}) as g",
        (ws.id, conversation[0]),
    )
    db.execute("analyze public.call_events, public.sms_events, public.messages")

    plan = explain(db, "select * from public.dashboard_daily_metrics where day = current_date - 1")
    day = db.execute(
        "select calls, sms_inbound, messages_inbound from public.dashboard_daily_metrics where day = current_date - 1"
    ).fetchone()

    scans = {n["Relation Name"]: n for n in nodes(plan) if n.get("Relation Name") in DAY_INDEXES}
    assert set(scans) == set(DAY_INDEXES)
    for table, scan in scans.items():
        assert scan["Node Type"] == "Bitmap Heap Scan", (table, scan["Node Type"])
        index_scans = [n for n in nodes(scan) if n["Node Type"] == "Bitmap Index Scan"]
        assert [n["Index Name"] for n in index_scans] == [DAY_INDEXES[table]]
        assert "(CURRENT_DATE - 1)" in index_scans[0]["Index Cond"]
    assert day is not None and day[0] == day[1] == day[2] > 0


def test_billing_reads_its_period_and_probes_only_its_snapshots(db: psycopg.Connection, factories: Factories) -> None:
    # 30 workspaces with two years of periods, one tier snapshot and one total per metric each: billing of
    # this month must read this month's totals and the snapshots they name, not the history beside them.
    owner = factories.user()
    db.execute(
        "insert into public.workspaces (name, owner_id) select 'tenant ' || g, %s from generate_series(1, 30) as g",
        (owner.id,),
    )
    db.execute(
        """
        insert into public.tier_snapshots (workspace_id, period_start, plan_key, currency, limits, reason)
        select w.id, (date_trunc('month', now() at time zone 'UTC') - make_interval(months => m))::date, p.key,
            p.currency, (select jsonb_object_agg(pl.metric, jsonb_build_object('unit_price_minor', pl.unit_price_minor))
                         from public.plan_limits as pl where pl.plan_key = p.key), 'period_start'
        from public.workspaces as w
        cross join generate_series(0, 23) as m
        cross join (select key, currency from public.plans where key = 'business') as p
        where w.owner_id = %s
        """,
        (owner.id,),
    )
    db.execute(
        """
        insert into private.usage_period_totals (workspace_id, period_start, metric, tier_snapshot_id, quantity,
            event_count, first_event_id, last_event_id)
        select ts.workspace_id, ts.period_start, pl.metric, ts.id, 10, 2, ts.id * 10, ts.id * 10 + 1
        from public.tier_snapshots as ts
        join public.plan_limits as pl on pl.plan_key = ts.plan_key
        where ts.workspace_id in (select id from public.workspaces where owner_id = %s)
        """,
        (owner.id,),
    )
    db.execute("analyze public.tier_snapshots, private.usage_period_totals")
    expected = db.execute(
        "select count(*) from private.usage_period_totals where period_start = date_trunc('month', now() at time zone"
        " 'UTC')::date"
    ).fetchone()
    # On a big history the planner hashes or merges whatever it can (at the volume bench's 3x, every tier
    # snapshot ever taken was hashed): here it may not, so only a plan that cannot do otherwise passes.
    db.execute("set enable_nestloop = off; set enable_seqscan = off")
    try:
        with nested_plans(db) as plans:
            run = db.execute(
                "select private.generate_all_billing_line_items(date_trunc('month', now() at time zone 'UTC')::date)"
            ).fetchone()
    finally:
        db.execute("reset enable_nestloop; reset enable_seqscan")
    assert run is not None and expected is not None
    assert run[0]["lines_written"] == expected[0] > 0

    insert = [p for p in plans if p["Node Type"] == "ModifyTable" and p.get("Relation Name") == "billing_line_items"]
    assert len(insert) == 1
    snapshots = scans_of(insert[0], "tier_snapshots")
    assert snapshots and all(
        n["Node Type"] == "Index Scan" and "tier_snapshot_id" in n.get("Index Cond", "") for n in snapshots
    ), snapshots
    # The totals come from an index that leads with the period (the primary key leads with the workspace).
    by_period = {
        r[0]
        for r in db.execute(
            """
            select c.relname from pg_catalog.pg_index as i
            join pg_catalog.pg_class as c on c.oid = i.indexrelid
            join pg_catalog.pg_attribute as a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
            where i.indrelid = 'private.usage_period_totals'::regclass and a.attname = 'period_start'
            """
        ).fetchall()
    }
    reads = [p for p in plans if scans_of(p, "usage_period_totals")]
    assert len(reads) == 2  # the lines and the count of workspaces
    for plan in reads:
        used = [n for n in nodes(plan) if str(n.get("Index Name", "")).startswith("usage_period_totals")]
        assert used and all(n["Index Name"] in by_period and "period_start =" in n["Index Cond"] for n in used), used


def test_every_reader_of_the_live_usage_totals_runs_without_jit(db: psycopg.Connection) -> None:
    # The live views add the events not folded yet, which the planner takes for a third of usage_events; with
    # JIT on, a large history alone would make each such statement compile for tens of milliseconds.
    readers = db.execute(
        """
        select p.oid::regprocedure::text, coalesce('jit=off' = any(p.proconfig), false)
        from pg_catalog.pg_proc as p
        where p.prosrc ~ 'usage_(period|daily)_live'
        """
    ).fetchall()
    assert len(readers) >= 4
    assert [name for name, off in readers if not off] == []
