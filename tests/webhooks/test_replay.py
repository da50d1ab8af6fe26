"""Replay, single and bulk, is for platform admins (and the backend), writes an audit row
with who, why and the outcome, and never doubles a delivery's effects."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from harness.rpc import RpcError
from tests.support.webhooks import (
    TWILIO_VOICE_URL,
    Ops,
    Secrets,
    Sign,
    e164,
    standard_event,
    twilio_call_status,
    twilio_inbound_sms,
    whatsapp_message,
)


def _audits(ops: Ops, action: str) -> list[dict]:
    cur = ops.db.execute("select * from public.audit_logs where action = %s order by id", (action,))
    return [dict(zip([c.name for c in cur.description or []], r)) for r in cur.fetchall()]


def test_replaying_a_processed_delivery_is_audited_and_doubles_nothing(
    deliver, rpc, sign: Sign, ops: Ops, factories
) -> None:
    agent = ops.agent(channels={"voice": None, "whatsapp": "106540352242922"})
    call = deliver(sign.twilio(twilio_call_status(agent.phone_number, e164(), duration=90), url=TWILIO_VOICE_URL))
    chat = deliver(sign.meta(whatsapp_message("106540352242922")))
    admin = factories.platform_admin()

    replayed = [
        rpc("replay_webhook", {"webhook_id": w["webhook_id"], "reason": "verify idempotency"}, as_=admin.jwt)
        for w in (call, chat, call)
    ]

    assert [r["status"] for r in replayed] == ["processed"] * 3
    assert [r["previous_status"] for r in replayed] == ["processed"] * 3
    assert ops.count("call_events") == 1
    assert ops.usage(agent.workspace_id, "call_minutes") == 2
    assert ops.count("messages") == 1 and ops.count("conversations") == 1
    audits = _audits(ops, "webhook.replay")
    assert len(audits) == 3
    first = audits[0]
    assert (first["actor_id"], first["actor_role"], first["reason"], first["target_table"], first["target_id"]) == (
        admin.id,
        "authenticated",
        "verify idempotency",
        "webhook_queue",
        str(call["webhook_id"]),
    )
    assert first["before"]["status"] == "processed" and first["after"]["status"] == "processed"
    assert first["workspace_id"] == agent.workspace_id
    assert replayed[0]["audit_id"] == first["id"]


def test_replay_after_the_number_is_provisioned_processes_the_delivery(deliver, rpc, sign: Sign, ops: Ops) -> None:
    number = e164()
    delivery = deliver(sign.twilio(twilio_inbound_sms(number, e164())))
    assert delivery["status"] == "unknown_phone"

    rpc("replay_webhook", {"webhook_id": delivery["webhook_id"], "reason": "still unknown"})
    assert ops.scalar("select seen_count from public.unknown_phone where phone_number = %s", number) == 1

    agent = ops.agent(phone_number=number)
    result = rpc("replay_webhook", {"webhook_id": delivery["webhook_id"], "reason": "number provisioned late"})

    assert (result["status"], result["previous_status"]) == ("processed", "unknown_phone")
    assert ops.count("sms_events", "workspace_id = %s", agent.workspace_id) == 1
    assert ops.usage(agent.workspace_id, "sms") == 1
    audit = _audits(ops, "webhook.replay")[-1]
    assert (audit["actor_role"], audit["before"]["status"], audit["after"]["status"]) == (
        "service_role",
        "unknown_phone",
        "processed",
    )


def test_replay_of_a_dead_letter_after_the_fix_processes_it(deliver, rpc, sign: Sign, ops: Ops, factories) -> None:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events", "bug 1234")
    delivery = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    ops.db.execute("update public.webhook_queue set max_attempts = 1, status = 'dead_letter' where id = %s", (delivery["webhook_id"],))
    ops.heal("sms_events")

    result = rpc(
        "replay_webhook", {"webhook_id": delivery["webhook_id"], "reason": "bug 1234 fixed"}, as_=factories.platform_admin().jwt
    )

    assert (result["status"], result["previous_status"]) == ("processed", "dead_letter")
    assert ops.count("sms_events") == 1
    audit = _audits(ops, "webhook.replay")[-1]
    assert (audit["before"]["last_error"], audit["after"]["status"], audit["after"]["error"]) == (
        "P0001: bug 1234",
        "processed",
        None,
    )


def test_a_failing_replay_is_audited_with_its_error(deliver, rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    delivery = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    ops.db.execute("delete from public.sms_events")
    ops.fail_inserts_into("sms_events", "disk full")

    result = rpc("replay_webhook", {"webhook_id": delivery["webhook_id"], "reason": "rebuild sms_events"})

    assert (result["status"], result["error"]) == ("failed", "P0001: disk full")
    assert _audits(ops, "webhook.replay")[-1]["after"] == {"status": "failed", "error": "P0001: disk full", "skip_reason": None}
    assert ops.webhook(delivery["webhook_id"])["status"] == "failed"  # the sweeper will try again


@pytest.mark.parametrize("who", ["member", "workspace_owner"])
def test_only_platform_admins_and_the_backend_may_replay(
    deliver, rpc, sign: Sign, ops: Ops, factories, who: str
) -> None:
    agent = ops.agent()
    delivery = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    ws = factories.workspace()
    caller = ws.owner if who == "workspace_owner" else factories.member(ws)
    for name, args in (
        ("replay_webhook", {"webhook_id": delivery["webhook_id"], "reason": "let me"}),
        ("replay_webhooks", {"reason": "let me", "status": "processed"}),
    ):
        with pytest.raises(RpcError) as err:
            rpc(name, args, as_=caller.jwt)
        assert err.value.sqlstate == "42501"
    with pytest.raises(RpcError) as err:
        rpc("replay_webhook", {"webhook_id": delivery["webhook_id"], "reason": "x"}, as_="anon")
    assert err.value.sqlstate == "42501"
    assert _audits(ops, "webhook.replay") == []


def test_replay_needs_a_reason_and_an_existing_replayable_row(deliver, rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    original = deliver(args)
    duplicate = deliver(args)
    rejected = deliver({**args, "headers": {"X-Twilio-Signature": "Zm9yZ2Vk"}})

    cases = [
        ({"webhook_id": original["webhook_id"], "reason": "  "}, "22023", "reason_required"),
        ({"webhook_id": 987654321, "reason": "why not"}, "PT404", "webhook_not_found"),
        ({"webhook_id": rejected["webhook_id"], "reason": "trust me"}, "22023", "webhook_not_replayable"),
        ({"webhook_id": duplicate["webhook_id"], "reason": "again"}, "22023", "webhook_not_replayable"),
    ]
    for call_args, sqlstate, message in cases:
        with pytest.raises(RpcError) as err:
            rpc("replay_webhook", call_args)
        assert (err.value.sqlstate, err.value.message) == (sqlstate, message)
    assert str(original["webhook_id"]) in (err.value.hint or "")  # a duplicate points at its original
    assert ops.webhook(rejected["webhook_id"])["status"] == "rejected"
    assert ops.count("sms_events") == 1
    assert _audits(ops, "webhook.replay") == []


def test_bulk_replay_by_provider_status_and_time_range(deliver, rpc, sign: Sign, ops: Ops, factories) -> None:
    numbers = [e164() for _ in range(4)]
    deliveries = [deliver(sign.twilio(twilio_inbound_sms(n, e164())))["webhook_id"] for n in numbers]
    meta = deliver(sign.meta(whatsapp_message("999000111222333")))["webhook_id"]
    # The first delivery arrived yesterday, outside the window replayed.
    ops.db.execute("update public.webhook_queue set received_at = now() - interval '1 day' where id = %s", (deliveries[0],))
    for n in numbers:
        ops.agent(phone_number=n)
    admin = factories.platform_admin()
    window_start = datetime.now(tz=timezone.utc) - timedelta(hours=1)

    result = rpc(
        "replay_webhooks",
        {"reason": "numbers ported in", "provider": "twilio", "status": "unknown_phone", "received_after": window_start.isoformat()},
        as_=admin.jwt,
    )

    assert (result["replayed"], result["succeeded"], result["outcomes"]) == (3, 3, {"processed": 3})
    assert sorted(result["webhook_ids"]) == sorted(deliveries[1:])
    assert ops.webhook(deliveries[0])["status"] == "unknown_phone"
    assert ops.webhook(meta)["status"] == "unknown_phone"
    assert ops.count("sms_events") == 3
    per_row = _audits(ops, "webhook.replay")
    assert sorted(int(a["target_id"]) for a in per_row) == sorted(deliveries[1:])
    assert {(a["actor_id"], a["reason"]) for a in per_row} == {(admin.id, "numbers ported in")}
    (bulk,) = _audits(ops, "webhook.bulk_replay")
    assert (bulk["actor_id"], bulk["reason"], bulk["before"]["provider"], bulk["before"]["status"]) == (
        admin.id,
        "numbers ported in",
        "twilio",
        "unknown_phone",
    )
    assert bulk["after"]["replayed"] == 3 and sorted(bulk["after"]["webhook_ids"]) == sorted(deliveries[1:])

    again = rpc("replay_webhooks", {"reason": "twice", "provider": "twilio", "status": "processed"}, as_=admin.jwt)
    assert again["replayed"] == 3 and ops.count("sms_events") == 3  # effects not doubled


def test_bulk_replay_refuses_bad_filters(rpc) -> None:
    cases = [
        ({"reason": "x", "status": "rejected"}, "invalid_status"),
        ({"reason": "x", "status": "duplicate"}, "invalid_status"),
        ({"reason": "x", "provider": "stripe"}, "unknown_provider"),
        ({"reason": "x", "max_count": 5000}, "invalid_max_count"),
        ({"reason": ""}, "reason_required"),
        (
            {"reason": "x", "received_after": "2026-11-22T10:00:00Z", "received_before": "2026-11-22T09:00:00Z"},
            "invalid_time_range",
        ),
    ]
    for args, message in cases:
        with pytest.raises(RpcError) as err:
            rpc("replay_webhooks", args)
        assert (err.value.sqlstate, err.value.message) == ("22023", message)


def _rotate(ops: Ops, name: str, value: str) -> None:
    ops.db.execute("delete from vault.secrets where name = %s", (name,))
    ops.db.execute("select vault.create_secret(%s, %s)", (value, name))


def test_a_delivery_rejected_under_a_wrong_secret_is_processed_when_replayed_after_the_fix(
    deliver, rpc, sign: Sign, ops: Ops, secrets: Secrets, factories
) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164(), body="genuine"))
    _rotate(ops, "twilio_auth_token", "a-token-rotated-by-mistake")
    rejected = deliver(args)
    assert (rejected["status"], rejected["error"]) == ("rejected", "signature_mismatch")
    _rotate(ops, "twilio_auth_token", secrets.twilio_auth_token)
    admin = factories.platform_admin()

    result = rpc("replay_webhook", {"webhook_id": rejected["webhook_id"], "reason": "secret fixed"}, as_=admin.jwt)

    assert (result["status"], result["previous_status"]) == ("processed", "rejected")
    row = ops.webhook(rejected["webhook_id"])
    assert (row["status"], row["signature_valid"], row["last_error"]) == ("processed", True, None)
    assert ops.count("sms_events", "body = 'genuine'") == 1
    (audit,) = _audits(ops, "webhook.replay")
    assert (audit["actor_id"], audit["before"]["status"], audit["after"]["status"]) == (admin.id, "rejected", "processed")
    # The genuine redelivery that follows is a duplicate of it: processed once.
    assert deliver(args)["status"] == "duplicate" and ops.count("sms_events") == 1


def test_a_rejected_delivery_replayed_after_its_redelivery_was_processed_becomes_its_duplicate(
    deliver, rpc, sign: Sign, ops: Ops, secrets: Secrets
) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    _rotate(ops, "twilio_auth_token", "a-token-rotated-by-mistake")
    rejected = deliver(args)
    _rotate(ops, "twilio_auth_token", secrets.twilio_auth_token)
    redelivered = deliver(args)
    assert (rejected["status"], redelivered["status"]) == ("rejected", "processed")

    result = rpc("replay_webhook", {"webhook_id": rejected["webhook_id"], "reason": "secret fixed"})

    assert result["status"] == "duplicate"
    row = ops.webhook(rejected["webhook_id"])
    assert (row["status"], row["duplicate_of"], row["signature_valid"]) == ("duplicate", redelivered["webhook_id"], True)
    assert ops.count("sms_events") == 1


def test_replaying_a_forged_delivery_checks_it_again_and_changes_nothing(deliver, rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    forged = deliver({**args, "headers": {"X-Twilio-Signature": "Zm9yZ2Vk"}})
    before = ops.webhook(forged["webhook_id"])
    alerts = ops.alerts("signature_failure")

    with pytest.raises(RpcError) as err:
        rpc("replay_webhook", {"webhook_id": forged["webhook_id"], "reason": "trust me"})

    assert (err.value.sqlstate, err.value.message) == ("22023", "webhook_not_replayable")
    assert "signature_mismatch" in (err.value.detail or "")
    assert ops.webhook(forged["webhook_id"]) == before
    assert ops.alerts("signature_failure") == alerts
    assert ops.count("sms_events") == 0 and _audits(ops, "webhook.replay") == []
    # The genuine delivery is not shadowed by it.
    assert deliver(args)["status"] == "processed"


def test_a_delivery_rejected_for_missing_fields_is_not_replayable(deliver, rpc, sign: Sign, ops: Ops) -> None:
    body = standard_event()
    del body["type"]
    rejected = deliver(sign.standard(body))
    assert rejected["status"] == "rejected"

    with pytest.raises(RpcError) as err:
        rpc("replay_webhook", {"webhook_id": rejected["webhook_id"], "reason": "again"})

    assert (err.value.sqlstate, err.value.message) == ("22023", "webhook_not_replayable")
    assert ops.webhook(rejected["webhook_id"])["status"] == "rejected"
