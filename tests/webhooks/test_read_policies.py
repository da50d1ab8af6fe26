"""Members read their workspace's call and SMS events, and nothing else of the webhook
tables; the read policies evaluate their helpers once per statement (an InitPlan),
never once per row, so a workspace's listing stays cheap as the tables grow."""

from __future__ import annotations

import json

import psycopg
import pytest

from harness.factories import Factories, acting_as
from tests.support.webhooks import TWILIO_VOICE_URL, Ops, Sign, e164, twilio_call_status, twilio_inbound_sms


def _plan_nodes(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


@pytest.mark.parametrize("table", ["call_events", "sms_events", "webhook_queue", "unknown_phone"])
def test_read_policy_runs_its_helpers_once_per_statement(
    db: psycopg.Connection, factories: Factories, table: str
) -> None:
    ws = factories.workspace()
    with acting_as(db, ws.owner.jwt):
        row = db.execute(f"explain (format json) select * from public.{table}").fetchone()
    assert row is not None
    plan = json.loads(row[0])[0]["Plan"] if isinstance(row[0], str) else row[0][0]["Plan"]
    relations = [n.get("Parent Relationship") for n in _plan_nodes(plan)]
    assert "SubPlan" not in relations, f"{table}: a policy helper runs per row"
    assert "InitPlan" in relations


def test_members_see_their_own_events_and_no_raw_deliveries(
    deliver, db: psycopg.Connection, sign: Sign, ops: Ops, factories: Factories
) -> None:
    ws = factories.workspace()
    mine, theirs = ops.agent(ws), ops.agent()
    for agent in (mine, theirs):
        deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
        deliver(sign.twilio(twilio_call_status(agent.phone_number, e164()), url=TWILIO_VOICE_URL))
    deliver(sign.twilio(twilio_inbound_sms(e164(), e164())))  # an unknown number
    member = factories.member(ws)

    with acting_as(db, member.jwt):
        seen = {
            t: db.execute(f"select count(*), count(*) filter (where workspace_id = %s) from public.{t}", (ws.id,)).fetchone()
            for t in ("sms_events", "call_events")
        }
        raw = db.execute("select count(*) from public.webhook_queue").fetchone()
        unknown = db.execute("select count(*) from public.unknown_phone").fetchone()

    assert seen == {"sms_events": (1, 1), "call_events": (1, 1)}
    assert raw == (0,) and unknown == (0,)
    assert ops.count("webhook_queue") == 5 and ops.count("unknown_phone") == 1
