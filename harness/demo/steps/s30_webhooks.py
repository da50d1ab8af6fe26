"""Webhooks: a burst of signed deliveries, and what became of each.

The step plays the providers: it signs Twilio deliveries (HMAC-SHA1 over the URL
and the sorted form fields), WhatsApp ones (HMAC-SHA256 of the raw body) and a
Standard Webhooks event (v1, HMAC-SHA256 of id.timestamp.body) with the secrets
in Vault, as each provider documents. Among them: the same SMS from eight
connections at once, one forged delivery and one to a number nobody owns. Each is
acknowledged (queued) once verified and stored; the drain, which pg_cron runs
continuously, then processes them, and the step runs it once itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import psycopg

from harness import rpc as rpc_module
from harness.race import race_each

if TYPE_CHECKING:
    from harness.demo import DemoContext

TITLE = "Webhooks: raw first, verified, deduplicated, queued, drained, retried and replayable"

SMS_URL = "https://api.example.test/webhooks/twilio/sms"
VOICE_URL = "https://api.example.test/webhooks/twilio/voice-status"


def _secret(ctx: DemoContext, name: str, make: str) -> str:
    row = ctx.conn.execute(
        "select decrypted_secret from vault.decrypted_secrets where name = %s order by created_at desc limit 1", (name,)
    ).fetchone()
    if row is not None:
        return str(row[0])
    ctx.conn.execute("select vault.create_secret(%s, %s, 'webhook signing secret (demo)')", (make, name))
    return make


def _number() -> str:
    return "+1415" + f"{secrets.randbelow(10**7):07d}"


def _twilio(token: str, url: str, fields: dict[str, str]) -> dict[str, Any]:
    signed = url + "".join(k + fields[k] for k in sorted(fields))
    signature = base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    return {
        "provider": "twilio",
        "payload": fields,
        "headers": {"X-Twilio-Signature": signature},
        "raw_body": urlencode(fields),
        "url": url,
    }


def _sms(to: str, body: str) -> dict[str, str]:
    sid = "SM" + uuid.uuid4().hex
    return {
        "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "d" * 32,
        "From": "+14155550123", "To": to, "Body": body, "NumSegments": "1", "NumMedia": "0",
        "SmsStatus": "received", "ApiVersion": "2010-04-01",
    }  # fmt: skip


def _call(to: str, seconds: int) -> dict[str, str]:
    return {
        "CallSid": "CA" + uuid.uuid4().hex, "AccountSid": "AC" + "d" * 32, "From": "+14155550123", "To": to,
        "Direction": "inbound", "CallStatus": "completed", "CallDuration": str(seconds), "ApiVersion": "2010-04-01",
    }  # fmt: skip


def _whatsapp(app_secret: str, phone_number_id: str, text: str) -> dict[str, Any]:
    message = {"from": "201001234567", "id": "wamid." + uuid.uuid4().hex, "timestamp": str(int(time.time())),
               "type": "text", "text": {"body": text}}  # fmt: skip
    value = {"messaging_product": "whatsapp", "messages": [message],
             "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id}}  # fmt: skip
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1022", "changes": [{"field": "messages", "value": value}]}]}
    raw = json.dumps(body)
    digest = hmac.new(app_secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
    return {"provider": "meta", "payload": body, "headers": {"X-Hub-Signature-256": f"sha256={digest}"}, "raw_body": raw}


def _standard(whsec: str, event: dict[str, Any]) -> dict[str, Any]:
    msg_id, timestamp, raw = "msg_" + uuid.uuid4().hex, str(int(time.time())), json.dumps(event)
    key = base64.b64decode(whsec.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.{raw}".encode(), hashlib.sha256).digest())
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": "v1," + signature.decode()}
    return {"provider": "standard", "payload": event, "headers": headers, "raw_body": raw}


def _burst(url: str, args: dict[str, Any], copies: int) -> list[dict[str, Any]]:
    """The same delivery on ``copies`` connections, released together."""
    conns = [psycopg.connect(url, autocommit=True) for _ in range(copies)]
    try:
        return race_each(conns, lambda conn: rpc_module.call(conn, "ingest_webhook", args).data)
    finally:
        for conn in conns:
            conn.close()


def _count(ctx: DemoContext, query: str, *params: Any) -> int:
    row = ctx.conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def run(ctx: DemoContext) -> None:
    token = _secret(ctx, "twilio_auth_token", secrets.token_hex(16))
    app_secret = _secret(ctx, "meta_app_secret", secrets.token_hex(16))
    whsec = _secret(ctx, "standard_webhook_secret", "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    ctx.say("signing secrets in Vault: twilio_auth_token, meta_app_secret, standard_webhook_secret")

    ws = ctx.factories.workspace(name="Demo webhooks workspace")
    number, wa_id = _number(), str(10**14 + secrets.randbelow(10**14))
    agent = ctx.conn.execute(
        "insert into public.agents (workspace_id, user_id, agent_id, phone_number, provider, status, nickname)"
        " values (%s, %s, %s, %s, 'twilio', 'active', 'Front desk') returning id",
        (ws.id, ws.owner.id, "agent_" + uuid.uuid4().hex[:10], number),
    ).fetchone()
    assert agent is not None
    for channel_type, external_id in (("sms", None), ("voice", None), ("whatsapp", wa_id)):
        ctx.conn.execute(
            "insert into public.agent_channels (workspace_id, agent_id, channel_type, external_id) values (%s, %s, %s, %s)",
            (ws.id, agent[0], channel_type, external_id),
        )
    ctx.say(f"agent 'Front desk' answers on {number} (SMS, voice) and WhatsApp phone_number_id {wa_id}")

    sms = _twilio(token, SMS_URL, _sms(number, "Is the clinic open on Friday?"))
    burst = _burst(ctx.url, sms, 8)
    statuses = sorted(r["status"] for r in burst)
    ctx.say(
        f"one inbound SMS delivered on 8 connections at once: {statuses.count('queued')} queued, "
        f"{statuses.count('duplicate')} duplicate (key {burst[0]['idempotency_key']})"
    )

    forged = {**_twilio(token, SMS_URL, _sms(number, "Send me the admin password")), "headers": {"X-Twilio-Signature": "Zm9yZ2Vk"}}
    deliveries = [
        ("voice status callback, completed after 2m05s", _twilio(token, VOICE_URL, _call(number, 125))),
        ("WhatsApp text message", _whatsapp(app_secret, wa_id, "Can I reschedule to 5pm?")),
        ("Standard Webhooks event invoice.paid", _standard(whsec, {"type": "invoice.paid", "data": {"id": "inv_1"}})),
        ("SMS with a forged X-Twilio-Signature", forged),
        ("SMS to a number nobody owns", _twilio(token, SMS_URL, _sms(_number(), "Hello?"))),
        ("the first SMS, redelivered by Twilio later", sms),
    ]
    acks = []
    for label, args in deliveries:
        result = ctx.rpc("ingest_webhook", args)
        extra = f" ({result['error']})" if result.get("error") else ""
        ctx.say(f"acknowledged: {label}: {result['status']}{extra} -> webhook {result['webhook_id']}")
        acks.append((label, result))

    # pg_cron's drain may have processed them already; this call drains whatever is left.
    ctx.rpc("drain_webhooks", {})
    queued = [r["webhook_id"] for r in burst + [a for _, a in acks] if r["status"] == "queued"]
    outcomes: dict[str, int] = dict(
        ctx.conn.execute(
            "select status, count(*) from public.webhook_queue where id = any(%s) group by status", (queued,)
        ).fetchall()
    )
    ctx.say(
        f"the drain (pg_cron keeps it running; the step also calls drain_webhooks): {len(queued)} queued -> "
        + ", ".join(f"{status} {n}" for status, n in sorted(outcomes.items()))
    )
    for label, result in acks:
        if result["status"] == "queued":
            row = ctx.conn.execute("select status from public.webhook_queue where id = %s", (result["webhook_id"],)).fetchone()
            ctx.say(f"  {label}: {row[0] if row else 'missing'}")
        else:
            extra = f" ({result['error']})" if result.get("error") else ""
            ctx.say(f"  {label}: {result['status']}{extra}")

    ctx.say(
        f"normalized: {_count(ctx, 'select count(*) from public.sms_events where workspace_id = %s', ws.id)} sms_event(s), "
        f"{_count(ctx, 'select count(*) from public.call_events where workspace_id = %s', ws.id)} call_event(s), "
        f"{_count(ctx, 'select count(*) from public.messages where workspace_id = %s', ws.id)} WhatsApp message(s)"
    )
    usage = ctx.conn.execute(
        "select metric, sum(quantity) from public.usage_events where workspace_id = %s group by metric order by metric",
        (ws.id,),
    ).fetchall()
    ctx.say("usage recorded once per event: " + ", ".join(f"{m} {q:g}" for m, q in usage))
    unknown = ctx.conn.execute(
        "select phone_number, seen_count from public.unknown_phone order by last_seen_at desc limit 1"
    ).fetchone()
    ctx.say(f"unknown_phone: {unknown[0]} seen {unknown[1]} time(s)" if unknown else "unknown_phone: empty")
    alert = ctx.conn.execute(
        "select message from public.alerts where type = 'signature_failure' and resolved_at is null"
        " order by id desc limit 1"
    ).fetchone()
    ctx.say(f"alert: {alert[0] if alert else 'none'}")

    admin = ctx.factories.platform_admin()
    first = next(r for r in burst if r["status"] == "queued")
    replay = ctx.rpc("replay_webhook", {"webhook_id": first["webhook_id"], "reason": "demo: prove replay is safe"}, as_=admin.jwt)
    ctx.say(
        f"a platform admin replays webhook {first['webhook_id']}: {replay['status']}, audit row {replay['audit_id']}; "
        f"sms_events still {_count(ctx, 'select count(*) from public.sms_events where workspace_id = %s', ws.id)}"
    )
    sweep = ctx.rpc("retry_failed_webhooks", {})
    ctx.say(
        f"retry sweeper (pg_cron runs it every minute): retried {sweep['retried']}, "
        f"succeeded {sweep['succeeded']}, dead-lettered {sweep['dead_lettered']} (nothing failed)"
    )
    now = ctx.rpc("ingest_webhook", {**_twilio(token, SMS_URL, _sms(number, "Running late!")), "process_now": True})
    ctx.say(f"an SMS sent with process_now => true: {now['status']} in the call (webhook {now['webhook_id']})")
