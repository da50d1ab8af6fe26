"""A receiving number (or channel id) that matches no active agent lands in unknown_phone
with correct counts; a disabled channel or a suspended workspace keeps the delivery,
marked, and nothing downstream happens."""

from __future__ import annotations

from tests.support.webhooks import (
    TWILIO_VOICE_URL,
    Ops,
    Sign,
    e164,
    messenger_message,
    twilio_call_status,
    twilio_inbound_sms,
    whatsapp_message,
)


def test_unknown_numbers_are_counted_per_distinct_delivery(deliver, sign: Sign, ops: Ops) -> None:
    lost, stray = e164(), e164()
    first = sign.twilio(twilio_inbound_sms(lost, e164()))
    results = [
        deliver(first),
        deliver(first),  # a redelivery: not another sighting
        deliver(sign.twilio(twilio_inbound_sms(lost, e164()))),
        deliver(sign.twilio(twilio_inbound_sms(lost, e164()))),
        deliver(sign.twilio(twilio_inbound_sms(stray, e164()))),
    ]

    assert [r["status"] for r in results] == ["unknown_phone", "duplicate", "unknown_phone", "unknown_phone", "unknown_phone"]
    rows = ops.db.execute(
        "select phone_number, provider, channel_type, seen_count, last_webhook_id, first_seen_at <= last_seen_at"
        " from public.unknown_phone order by phone_number"
    ).fetchall()
    assert sorted(rows) == sorted(
        [
            (lost, "twilio", "sms", 3, results[3]["webhook_id"], True),
            (stray, "twilio", "sms", 1, results[4]["webhook_id"], True),
        ]
    )
    assert ops.count("sms_events") == 0
    assert ops.count("webhook_queue", "status = 'unknown_phone'") == 4


def test_concurrent_deliveries_to_an_unknown_number_are_all_counted(concurrently, sign: Sign, ops: Ops) -> None:
    # Processed in the call, so the eight count at once (two drains racing: test_drain.py).
    lost = e164()
    calls = [("ingest_webhook", {**sign.twilio(twilio_inbound_sms(lost, e164())), "process_now": True}) for _ in range(8)]
    outcomes = concurrently(calls)
    assert [data["status"] for _, data in outcomes] == ["unknown_phone"] * 8
    assert ops.scalar("select seen_count from public.unknown_phone where phone_number = %s", lost) == 8


def test_a_number_whose_agent_was_deactivated_is_unknown(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    ops.db.execute("update public.agents set is_active = false where id = %s", (agent.id,))
    params = twilio_call_status(agent.phone_number, e164())
    assert deliver(sign.twilio(params, url=TWILIO_VOICE_URL))["status"] == "unknown_phone"
    assert ops.scalar("select channel_type from public.unknown_phone where phone_number = %s", agent.phone_number) == (
        "voice"
    )
    assert ops.count("call_events") == 0


def test_unknown_whatsapp_and_messenger_channels_are_recorded(deliver, sign: Sign, ops: Ops) -> None:
    wa = deliver(sign.meta(whatsapp_message("999000111222333")))
    fb = deliver(sign.meta(messenger_message("444555666777888")))
    assert (wa["status"], fb["status"]) == ("unknown_phone", "unknown_phone")
    rows = ops.db.execute("select provider, channel_type, phone_number, seen_count from public.unknown_phone").fetchall()
    assert sorted(rows) == [("meta", "messenger", "444555666777888", 1), ("meta", "whatsapp", "999000111222333", 1)]
    assert ops.count("messages") == 0


def test_disabled_channel_event_is_stored_but_triggers_nothing(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent(channels={"sms": None, "voice": None, "whatsapp": "106540352242922"})
    ops.db.execute("update public.agent_channels set is_active = false where agent_id = %s", (agent.id,))

    sms = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    call = deliver(sign.twilio(twilio_call_status(agent.phone_number, e164()), url=TWILIO_VOICE_URL))
    chat = deliver(sign.meta(whatsapp_message("106540352242922")))

    for result in (sms, call, chat):
        row = ops.webhook(result["webhook_id"])
        assert (row["status"], row["skip_reason"], result["skip_reason"]) == (
            "processed",
            "channel_disabled",
            "channel_disabled",
        )
    assert ops.count("sms_events") + ops.count("call_events") + ops.count("messages") == 0
    assert ops.count("conversations") == 0
    assert ops.count("usage_events", "workspace_id = %s", agent.workspace_id) == 0
    assert ops.count("unknown_phone") == 0


def test_suspended_workspace_event_is_stored_but_triggers_nothing(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent(channels={"sms": None, "messenger": "112233445566778"})
    ops.db.execute(
        "update public.workspaces set status = 'suspended', status_reason = 'fraud review' where id = %s",
        (agent.workspace_id,),
    )

    sms = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    chat = deliver(sign.meta(messenger_message("112233445566778")))

    assert (sms["status"], sms["skip_reason"]) == ("processed", "workspace_suspended")
    assert (chat["status"], chat["skip_reason"]) == ("processed", "workspace_suspended")
    assert ops.count("sms_events") + ops.count("messages") == 0
    assert ops.count("usage_events", "workspace_id = %s", agent.workspace_id) == 0


def test_channel_reenabled_later_processes_new_deliveries(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    ops.db.execute("update public.agent_channels set is_active = false where agent_id = %s", (agent.id,))
    deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    ops.db.execute("update public.agent_channels set is_active = true where agent_id = %s", (agent.id,))
    assert deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))["skip_reason"] is None
    assert ops.count("sms_events") == 1


def test_replaying_a_processed_delivery_does_not_count_its_unknown_channel_again(
    deliver, rpc, sign: Sign, ops: Ops
) -> None:
    ops.agent(channels={"whatsapp": "106540352242922"})
    body = whatsapp_message("106540352242922")
    body["entry"] += whatsapp_message("999000111222333")["entry"]  # a second channel nobody has
    first = deliver(sign.meta(body))
    assert first["status"] == "processed"
    seen = "select seen_count from public.unknown_phone where phone_number = '999000111222333'"
    assert ops.scalar(seen) == 1

    replays = [rpc("replay_webhook", {"webhook_id": first["webhook_id"], "reason": f"replay {n}"}) for n in range(3)]

    assert [r["status"] for r in replays] == ["processed"] * 3
    assert ops.scalar(seen) == 1
    assert ops.count("messages") == 1
