"""Verified deliveries become normalized rows in the right workspace: Twilio calls in
call_events, Twilio SMS in sms_events, WhatsApp and Messenger in conversations and
messages, Paymob callbacks in payments; completed calls and SMS record usage once."""

from __future__ import annotations

import psycopg

from tests.support.paymob import paymob_transaction
from tests.support.webhooks import (
    TWILIO_VOICE_URL,
    Ops,
    Sign,
    e164,
    messenger_message,
    standard_event,
    twilio_call_status,
    twilio_inbound_sms,
    whatsapp_message,
)


def test_completed_inbound_call_becomes_a_call_event_and_billable_minutes(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    caller = e164()
    params = twilio_call_status(agent.phone_number, caller, duration=125)

    result = deliver(sign.twilio(params, url=TWILIO_VOICE_URL))

    assert result["status"] == "processed" and result["event_type"] == "twilio.voice_status"
    row = ops.db.execute(
        "select workspace_id, agent_id, channel_id, webhook_id, call_sid, call_status, direction, from_number,"
        " to_number, duration_seconds, billable_minutes from public.call_events"
    ).fetchone()
    assert row == (
        agent.workspace_id,
        agent.id,
        agent.channels["voice"],
        result["webhook_id"],
        params["CallSid"],
        "completed",
        "inbound",
        caller,
        agent.phone_number,
        125,
        3,
    )
    event_id = ops.scalar("select id from public.call_events")
    usage = ops.db.execute(
        "select metric, quantity, idempotency_key, source from public.usage_events where workspace_id = %s",
        (agent.workspace_id,),
    ).fetchall()
    assert [(m, float(q), k, s) for m, q, k, s in usage] == [("call_minutes", 3.0, f"call_events:{event_id}", "twilio")]


def test_call_progress_statuses_are_events_without_usage(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    call_sid = "CA" + "0" * 32
    for status in ("initiated", "ringing", "in-progress", "no-answer"):
        params = twilio_call_status(agent.phone_number, e164(), status=status, CallSid=call_sid)
        assert deliver(sign.twilio(params, url=TWILIO_VOICE_URL))["status"] == "processed"
    assert ops.count("call_events", "call_sid = %s", call_sid) == 4
    assert ops.usage(agent.workspace_id, "call_minutes") == 0


def test_outbound_call_is_resolved_by_the_calling_number(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    params = twilio_call_status(e164(), agent.phone_number, duration=30, direction="outbound-api")
    assert deliver(sign.twilio(params, url=TWILIO_VOICE_URL))["status"] == "processed"
    assert ops.scalar("select agent_id from public.call_events") == agent.id
    assert ops.usage(agent.workspace_id, "call_minutes") == 1


def test_inbound_sms_becomes_an_sms_event_and_sms_usage(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    sender = e164()
    params = twilio_inbound_sms(agent.phone_number, sender, body="Can I book for 5pm?")

    result = deliver(sign.twilio(params))

    assert result["status"] == "processed" and result["event_type"] == "twilio.sms"
    row = ops.db.execute(
        "select workspace_id, agent_id, channel_id, message_sid, sms_status, direction, from_number, to_number,"
        " body, num_segments from public.sms_events"
    ).fetchone()
    assert row == (
        agent.workspace_id,
        agent.id,
        agent.channels["sms"],
        params["MessageSid"],
        "received",
        "inbound",
        sender,
        agent.phone_number,
        "Can I book for 5pm?",
        1,
    )
    # billed once per message, keyed by its SID
    assert ops.scalar("select idempotency_key from public.usage_events where metric = 'sms'") == (
        f"twilio_sms:{params['MessageSid']}"
    )
    assert ops.usage(agent.workspace_id, "sms") == 1


def test_outbound_sms_status_callbacks_charge_once_when_sent(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    message_sid = "SM" + "1" * 32
    for status in ("queued", "sent", "delivered"):
        params = {
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": "AC" + "2" * 32,
            "From": agent.phone_number,
            "To": e164(),
            "ApiVersion": "2010-04-01",
        }
        assert deliver(sign.twilio(params))["status"] == "processed"
    assert ops.count("sms_events", "message_sid = %s and direction = 'outbound'", message_sid) == 3
    assert ops.usage(agent.workspace_id, "sms") == 1


def test_whatsapp_message_becomes_a_conversation_and_message(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent(channels={"whatsapp": "106540352242922"})
    body = whatsapp_message("106540352242922", wa_from="16505551234", text="Does it come in another color?")

    result = deliver(sign.meta(body))

    assert result["status"] == "processed" and result["event_type"] == "meta.whatsapp"
    conv = ops.db.execute(
        "select workspace_id, agent_id, channel_id, channel_type, external_thread_id, contact_address"
        " from public.conversations"
    ).fetchone()
    assert conv == (agent.workspace_id, agent.id, agent.channels["whatsapp"], "whatsapp", "16505551234", "+16505551234")
    msg = ops.db.execute(
        "select direction, sender, body, provider, provider_message_id, metadata->>'type', metadata->>'webhook_id'"
        " from public.messages"
    ).fetchone()
    wa_id = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert msg == (
        "inbound",
        "16505551234",
        "Does it come in another color?",
        "whatsapp",
        wa_id,
        "text",
        str(result["webhook_id"]),
    )


def test_follow_up_messages_join_the_same_conversation(deliver, sign: Sign, ops: Ops) -> None:
    ops.agent(channels={"whatsapp": "106540352242922"})
    deliver(sign.meta(whatsapp_message("106540352242922", text="one", timestamp=1795395342)))
    deliver(sign.meta(whatsapp_message("106540352242922", text="two", timestamp=1795395400)))
    assert ops.count("conversations") == 1
    assert ops.count("messages") == 2
    assert ops.scalar("select extract(epoch from last_message_at)::bigint from public.conversations") == 1795395400


def test_whatsapp_status_receipts_are_accepted_without_messages(deliver, sign: Sign, ops: Ops) -> None:
    ops.agent(channels={"whatsapp": "106540352242922"})
    receipt = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                            "statuses": [
                                {
                                    "id": "wamid.OUT1",
                                    "status": "delivered",
                                    "timestamp": "1795395342",
                                    "recipient_id": "16505551234",
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    result = deliver(sign.meta(receipt))
    assert (result["status"], result["idempotency_key"]) == ("processed", "wa:wamid.OUT1:delivered")
    assert ops.count("messages") == 0


def test_messenger_message_becomes_a_conversation_and_message(deliver, sign: Sign, ops: Ops) -> None:
    agent = ops.agent(channels={"messenger": "112233445566778"})
    body = messenger_message("112233445566778", psid="6789012345678901", text="hello, world!", mid="m_abc")

    result = deliver(sign.meta(body))

    assert result["status"] == "processed" and result["event_type"] == "meta.messenger"
    row = ops.db.execute(
        "select c.workspace_id, c.channel_id, c.channel_type, c.external_thread_id, m.direction, m.body,"
        " m.provider, m.provider_message_id from public.messages as m join public.conversations as c"
        " on c.id = m.conversation_id"
    ).fetchone()
    assert row == (
        agent.workspace_id,
        agent.channels["messenger"],
        "messenger",
        "6789012345678901",
        "inbound",
        "hello, world!",
        "messenger",
        "m_abc",
    )


def test_standard_webhook_event_is_stored_verified_and_processed(deliver, sign: Sign, ops: Ops) -> None:
    result = deliver(sign.standard(standard_event("invoice.paid")))
    assert result["acknowledged"] == "queued"
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["event_type"], row["signature_valid"]) == ("processed", "standard.invoice.paid", True)


def test_paymob_processed_callback_confirms_the_payment_and_upgrades_the_plan(
    deliver, rpc, sign: Sign, ops: Ops, factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    request = rpc(
        "create_payment_request", {"workspace_id": str(ws.id), "plan_key": "pro", "provider": "paymob"}, as_=ws.owner.jwt
    )
    callback = paymob_transaction(request["reference"], int(request["amount"]), request["currency"])

    result = deliver(sign.paymob(callback))
    again = deliver(sign.paymob(callback))

    # A payment callback is processed in the call by default: the payer waits for the plan.
    assert result["acknowledged"] == "processed"
    assert result["status"] == "processed" and result["event_type"] == "paymob.transaction"
    assert result["idempotency_key"] == f"txn:{callback['obj']['id']}:success"
    assert again["status"] == "duplicate"
    assert ops.scalar("select status from public.payments where id = %s", request["payment_id"]) == "confirmed"
    assert ops.scalar("select plan_key from public.workspaces where id = %s", ws.id) == "pro"


def test_forged_paymob_callback_changes_nothing(rpc, sign: Sign, ops: Ops, factories) -> None:
    ws = factories.workspace()
    request = rpc(
        "create_payment_request", {"workspace_id": str(ws.id), "plan_key": "pro", "provider": "paymob"}, as_=ws.owner.jwt
    )
    args = sign.paymob(paymob_transaction(request["reference"], int(request["amount"]), request["currency"]))
    args["url"] = args["url"][:-4] + "0000"

    result = rpc("ingest_webhook", args)

    assert (result["status"], result["error"]) == ("rejected", "signature_mismatch")
    assert ops.scalar("select status from public.payments where id = %s", request["payment_id"]) == "pending"
    assert ops.scalar("select plan_key from public.workspaces where id = %s", ws.id) == "free"
