"""No alert storms: a permanent error (class 22) dead-letters a delivery at once, and
dead letters raise one open alert per provider and error, counting the rows and
citing a few ids, however many arrive at once; it resolves once none is left."""

from __future__ import annotations

from typing import Any

from harness.testing import Rpc
from tests.support.webhooks import Concurrently, Ops, Sign, e164, twilio_inbound_sms


def now(args: dict[str, Any]) -> dict[str, Any]:
    """Processed in the ingest call (process_now), so the answer is the outcome."""
    return {**args, "process_now": True}


def _unusable(agent: Any, segments: str = "lots") -> dict[str, str]:
    """A genuine, signed SMS whose NumSegments can never be read as a number."""
    return twilio_inbound_sms(agent.phone_number, e164(), NumSegments=segments)


def _alerts(ops: Ops) -> list[dict[str, Any]]:
    return ops.alerts("webhook_failure")


def test_a_permanent_error_dead_letters_at_once_with_one_alert(rpc: Rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()

    result = rpc("ingest_webhook", now(sign.twilio(_unusable(agent))))

    assert (result["status"], result["dead_letter"]) == ("failed", True)
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("dead_letter", 1, None)
    assert row["last_error"] == '22P02: invalid input syntax for type integer: "lots"'
    ops.db.execute("update public.webhook_queue set next_attempt_at = now() - interval '1 hour'")
    assert rpc("retry_failed_webhooks", {})["retried"] == 0
    [alert] = _alerts(ops)
    assert (alert["severity"], alert["workspace_id"], alert["resolved_at"]) == ("critical", None, None)
    assert {k: alert["details"][k] for k in ("provider", "error", "count", "webhook_ids")} == {
        "provider": "twilio",
        "error": "22P02: invalid input syntax for type integer: ?",
        "count": 1,
        "webhook_ids": [result["webhook_id"]],
    }
    assert ops.count("sms_events") == 0


def test_many_dead_letters_at_once_raise_one_alert_per_provider_and_error(
    sign: Sign, ops: Ops, concurrently: Concurrently
) -> None:
    agent = ops.agent()
    calls = [("ingest_webhook", now(sign.twilio(_unusable(agent, f"{n} parts")))) for n in range(10)]
    calls += [("ingest_webhook", now(sign.twilio(_unusable(agent, "99999999999")))) for _ in range(2)]  # another error

    outcomes = concurrently(calls)

    assert [(kind, value["dead_letter"]) for kind, value in outcomes] == [("ok", True)] * 12
    ids = [value["webhook_id"] for _, value in outcomes]
    alerts = {a["details"]["error"]: a for a in _alerts(ops)}
    assert sorted(alerts) == [
        "22003: value ? is out of range for type integer",
        "22P02: invalid input syntax for type integer: ?",
    ]
    syntax = alerts["22P02: invalid input syntax for type integer: ?"]["details"]
    assert syntax["count"] == 10 and len(syntax["webhook_ids"]) == 5 and set(syntax["webhook_ids"]) <= set(ids[:10])
    assert alerts["22003: value ? is out of range for type integer"]["details"]["count"] == 2
    message = alerts["22P02: invalid input syntax for type integer: ?"]["message"]
    assert message.startswith("10 twilio webhook deliveries dead-lettered: 22P02")


def test_the_sweeper_counts_its_dead_letters_in_one_alert(rpc: Rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events", "sms store is down")  # a transient error: retried until the last attempt
    ids = [rpc("ingest_webhook", now(sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))))["webhook_id"]
           for _ in range(3)]
    ops.db.execute("update public.webhook_queue set attempts = max_attempts - 1, next_attempt_at = now() - interval '1 s'")

    swept = rpc("retry_failed_webhooks", {})

    assert (swept["retried"], swept["dead_lettered"]) == (3, 3)
    [alert] = _alerts(ops)
    assert (alert["details"]["count"], sorted(alert["details"]["webhook_ids"])) == (3, sorted(ids))


def test_the_alert_resolves_once_no_dead_letter_of_its_provider_and_error_is_left(
    rpc: Rpc, sign: Sign, ops: Ops
) -> None:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events", "sms store is down")
    first = rpc("ingest_webhook", now(sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))))["webhook_id"]
    second = rpc("ingest_webhook", now(sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))))["webhook_id"]
    ops.db.execute("update public.webhook_queue set attempts = max_attempts - 1, next_attempt_at = now() - interval '1 s'")
    rpc("retry_failed_webhooks", {})
    ops.heal("sms_events")
    admin = ops.factories.platform_admin()

    assert rpc("replay_webhook", {"webhook_id": first, "reason": "store is back"}, as_=admin.jwt)["status"] == "processed"
    ops.db.execute("select private.resolve_cleared_alerts()")
    assert _alerts(ops)[0]["resolved_at"] is None  # one dead letter is left
    rpc("replay_webhook", {"webhook_id": second, "reason": "store is back"}, as_=admin.jwt)
    ops.db.execute("select private.resolve_cleared_alerts()")

    [alert] = _alerts(ops)
    assert (alert["resolved_by"], alert["resolution"]) == (
        None, "auto: no dead letters of this provider and error are left (replayed or expired)"
    )
    assert alert["resolved_at"] is not None
