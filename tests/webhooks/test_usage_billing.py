"""Usage from webhooks: every billable fact billed once, whatever the order, the
concurrency or the workspace's limits.

* The first usages of a period arriving at once are all recorded (none taken for
  blocked), through ingest_webhook too.
* A provider's report past the hard limit is recorded and billed, and moves limit_state.
* An outbound SMS is billed once, by segments, on its first status proving it was
  sent (sent, delivered, undelivered, read), in any order, concurrently too.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from harness.rpc import RpcError
from harness.testing import Rpc
from tests.support.webhooks import Concurrently, Ops, Sign, e164, sid, twilio_call_status, twilio_inbound_sms


def now(args: dict[str, Any]) -> dict[str, Any]:
    """Processed in the ingest call (process_now), so the answer is the outcome."""
    return {**args, "process_now": True}


def sms_status(agent_number: str, message_sid: str, status: str, segments: int | None = 2) -> dict[str, str]:
    """Form fields of a Twilio status callback for a message an agent sent."""
    fields = {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "2" * 32,
        "From": agent_number,
        "To": "+14155550100",
        "ApiVersion": "2010-04-01",
    }
    if segments is not None:
        fields["NumSegments"] = str(segments)
    return fields


def sms_usage(ops: Ops, workspace_id: Any) -> list[tuple[str, float]]:
    rows = ops.db.execute(
        "select idempotency_key, quantity from public.usage_events where workspace_id = %s and metric = 'sms'"
        " order by id",
        (workspace_id,),
    ).fetchall()
    return [(key, float(q)) for key, q in rows]


def test_first_deliveries_of_a_period_arriving_at_once_are_all_billed(
    sign: Sign, ops: Ops, concurrently: Concurrently
) -> None:
    agents = [ops.agent() for _ in range(12)]  # fresh workspaces: no usage_limits rows yet
    per_agent = 8
    calls = [
        ("ingest_webhook", now(sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))))
        for _ in range(per_agent)
        for agent in agents
    ]

    outcomes = concurrently(calls)

    assert [kind for kind, _ in outcomes] == ["ok"] * len(calls)
    assert {value["status"] for _, value in outcomes} == {"processed"}
    for agent in agents:
        assert ops.count("sms_events", "workspace_id = %s", agent.workspace_id) == per_agent
        assert ops.usage(agent.workspace_id, "sms") == per_agent
        assert ops.scalar(
            "select used from public.usage_limits where workspace_id = %s and metric = 'sms'", agent.workspace_id
        ) == per_agent


def test_a_completed_call_past_the_hard_limit_is_recorded_billed_and_blocks_new_work(
    rpc: Rpc, sign: Sign, ops: Ops
) -> None:
    agent = ops.agent()
    ws = str(agent.workspace_id)
    rpc("record_usage", {"workspace_id": ws, "metric": "call_minutes", "quantity": 99})  # free: hard limit 100

    first = rpc("ingest_webhook", now(sign.twilio(twilio_call_status(agent.phone_number, e164(), duration=125))))
    second = rpc("ingest_webhook", now(sign.twilio(twilio_call_status(agent.phone_number, e164(), duration=30))))

    assert (first["status"], second["status"]) == ("processed", "processed")
    assert ops.usage(agent.workspace_id, "call_minutes") == 99 + 3 + 1
    limits = ops.db.execute(
        "select used, limit_state from public.usage_limits where workspace_id = %s and metric = 'call_minutes'",
        (agent.workspace_id,),
    ).fetchone()
    assert limits == (103, "blocked")
    assert len(ops.alerts("usage_blocked")) == 1
    # billed: the line items carry every minute
    ops.db.execute("select private.write_billing_line_items(%s, private.usage_period())", (agent.workspace_id,))
    assert ops.scalar(
        "select quantity from public.billing_line_items where workspace_id = %s and metric = 'call_minutes'",
        agent.workspace_id,
    ) == 103
    # new work is refused before it starts
    with pytest.raises(RpcError) as refused:
        rpc("authorize_usage", {"workspace_id": ws, "metric": "call_minutes"})
    assert (refused.value.sqlstate, refused.value.status, refused.value.message) == ("PT402", 402, "usage_limit_exceeded")


ORDERS = [
    ("sent", "delivered", "read"),
    ("delivered", "sent"),
    ("queued", "sending", "delivered"),  # the sent callback never arrives
    ("queued", "undelivered"),
    ("read", "delivered", "sent"),
]


def test_an_outbound_sms_is_billed_once_by_segments_on_its_first_status_proving_it_was_sent(
    rpc: Rpc, sign: Sign, ops: Ops
) -> None:
    agent = ops.agent()
    for statuses in ORDERS:
        message_sid = sid("SM")
        for status in statuses:
            assert rpc("ingest_webhook", now(sign.twilio(sms_status(agent.phone_number, message_sid, status))))[
                "status"
            ] == "processed"
        assert ops.count("sms_events", "message_sid = %s", message_sid) == len(statuses)
        billed = [(k, q) for k, q in sms_usage(ops, agent.workspace_id) if k == f"twilio_sms:{message_sid}"]
        assert billed == [(f"twilio_sms:{message_sid}", 2.0)], statuses
    assert ops.usage(agent.workspace_id, "sms") == 2 * len(ORDERS)


def test_an_sms_never_proven_sent_is_not_billed(rpc: Rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    for statuses in (("queued", "sending"), ("queued", "failed"), ("accepted", "canceled")):
        message_sid = sid("SM")
        for status in statuses:
            rpc("ingest_webhook", now(sign.twilio(sms_status(agent.phone_number, message_sid, status))))
    assert ops.count("sms_events", "workspace_id = %s", agent.workspace_id) == 6
    assert sms_usage(ops, agent.workspace_id) == []


def test_statuses_of_one_message_arriving_at_once_bill_it_once(
    sign: Sign, ops: Ops, concurrently: Concurrently
) -> None:
    agent = ops.agent()
    sids = [sid("SM") for _ in range(4)]
    calls = [
        ("ingest_webhook", now(sign.twilio(sms_status(agent.phone_number, message_sid, status))))
        for message_sid, status in itertools.product(sids, ("sent", "delivered", "read"))
    ]

    outcomes = concurrently(calls)

    assert [kind for kind, _ in outcomes] == ["ok"] * len(calls)
    assert {value["status"] for _, value in outcomes} == {"processed"}
    assert sorted(sms_usage(ops, agent.workspace_id)) == sorted((f"twilio_sms:{s}", 2.0) for s in sids)
    assert ops.scalar(
        "select used from public.usage_limits where workspace_id = %s and metric = 'sms'", agent.workspace_id
    ) == 8


def test_a_message_whose_sent_event_was_billed_under_its_event_key_is_not_billed_again(
    rpc: Rpc, sign: Sign, ops: Ops
) -> None:
    agent = ops.agent()
    message_sid = sid("SM")
    rpc("ingest_webhook", now(sign.twilio(sms_status(agent.phone_number, message_sid, "queued"))))
    # a sent event billed with the key of the event itself (sms_events:<id>)
    event_id = ops.scalar(
        "insert into public.sms_events (workspace_id, agent_id, provider, message_sid, sms_status, direction,"
        " num_segments) values (%s, %s, 'twilio', %s, 'sent', 'outbound', 2) returning id",
        agent.workspace_id, agent.id, message_sid,
    )
    rpc("record_usage", {
        "workspace_id": str(agent.workspace_id), "metric": "sms", "quantity": 2,
        "idempotency_key": f"sms_events:{event_id}", "source": "twilio",
    })

    rpc("ingest_webhook", now(sign.twilio(sms_status(agent.phone_number, message_sid, "delivered"))))

    assert [q for _, q in sms_usage(ops, agent.workspace_id)] == [2.0]


def test_an_inbound_sms_is_billed_once_by_its_sid_even_when_replayed(rpc: Rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    params = twilio_inbound_sms(agent.phone_number, e164(), NumSegments="3")
    webhook_id = rpc("ingest_webhook", now(sign.twilio(params)))["webhook_id"]
    rpc("replay_webhook", {"webhook_id": webhook_id, "reason": "check"}, as_=ops.factories.platform_admin().jwt)

    assert sms_usage(ops, agent.workspace_id) == [(f"twilio_sms:{params['MessageSid']}", 3.0)]
