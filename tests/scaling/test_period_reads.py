"""Dashboards and jobs read the period they report on: a day of the dashboard view,
for every workspace, reads that day's calls, SMS and messages from their BRIN
indexes on the UTC day, whatever history lies beside it."""

from __future__ import annotations

import psycopg

from harness.factories import Factories
from tests.scaling.plans import explain, nodes

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
