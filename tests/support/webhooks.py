"""Webhook test helpers and fixtures: signing secrets in Vault, agents on numbers and channels,
realistic provider payloads, and deliveries signed with the providers' own code.

Twilio deliveries are signed with twilio's ``RequestValidator`` and Standard
Webhooks with the ``standardwebhooks`` package (the reference implementations);
Meta and Paymob with hmac/hashlib exactly as their documentation describes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets as pysecrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from harness.factories import Factories, Workspace
from harness.testing import Rpc
from tests.support.paymob import PAYMOB_URL, paymob_hmac_message

_seq = itertools.count(1)

Outcome = tuple[str, Any]  # ("ok", data) or ("error", RpcError)
# concurrently(calls, as_=...): each (function, args) on its own connection, released together.
Concurrently = Callable[..., list[Outcome]]

TWILIO_SMS_URL = "https://api.example.test/webhooks/twilio/sms"
TWILIO_VOICE_URL = "https://api.example.test/webhooks/twilio/voice-status"
ACCOUNT_SID = "AC" + "4f2b9c0e1d3a5b7c9e0f1a2b3c4d5e6f"


def sid(prefix: str) -> str:
    """A Twilio-shaped id: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


def e164() -> str:
    """A fresh E.164 number in the 555 range."""
    return f"+1415555{next(_seq):04d}"


# --- secrets --------------------------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    twilio_auth_token: str
    meta_app_secret: str
    standard_webhook_secret: str
    paymob_hmac_secret: str


@pytest.fixture
def secrets(db: psycopg.Connection) -> Secrets:
    """The four signing secrets, stored in Vault under their contract names."""
    values = Secrets(
        twilio_auth_token=pysecrets.token_hex(16),
        meta_app_secret=pysecrets.token_hex(16),
        standard_webhook_secret="whsec_" + base64.b64encode(pysecrets.token_bytes(24)).decode(),
        paymob_hmac_secret=pysecrets.token_hex(16).upper(),
    )
    for name, value in vars(values).items():
        db.execute("select vault.create_secret(%s, %s)", (value, name))
    return values


# --- payloads -------------------------------------------------------------------------


def twilio_inbound_sms(to: str, from_: str, body: str = "Hi, is the clinic open on Friday?", **extra: str) -> dict:
    """Form fields of Twilio's inbound SMS webhook (as Twilio posts them)."""
    message_sid = extra.pop("MessageSid", sid("SM"))
    fields = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "94105",
        "SmsSid": message_sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": body,
        "FromCountry": "US",
        "To": to,
        "MessagingServiceSid": sid("MG"),
        "ToZip": "94107",
        "NumSegments": "1",
        "MessageSid": message_sid,
        "AccountSid": ACCOUNT_SID,
        "From": from_,
        "ApiVersion": "2010-04-01",
    }
    fields.update(extra)
    return fields


def twilio_call_status(
    to: str, from_: str, status: str = "completed", duration: int = 125, direction: str = "inbound", **extra: str
) -> dict:
    """Form fields of a Twilio voice status callback."""
    fields = {
        "Called": to,
        "ToState": "CA",
        "CallerCountry": "US",
        "Direction": direction,
        "Timestamp": "Sun, 22 Nov 2026 01:15:42 +0000",
        "CallbackSource": "call-progress-events",
        "SipResponseCode": "200",
        "CallerState": "CA",
        "ToZip": "94107",
        "SequenceNumber": "3",
        "CallSid": extra.pop("CallSid", sid("CA")),
        "To": to,
        "CallerZip": "94105",
        "ToCountry": "US",
        "CalledZip": "94107",
        "ApiVersion": "2010-04-01",
        "CalledCity": "SAN FRANCISCO",
        "CallStatus": status,
        "From": from_,
        "AccountSid": ACCOUNT_SID,
        "CalledCountry": "US",
        "CallerCity": "SAN FRANCISCO",
        "ToCity": "SAN FRANCISCO",
        "FromCountry": "US",
        "Caller": from_,
        "FromCity": "SAN FRANCISCO",
        "CalledState": "CA",
        "FromZip": "94105",
        "FromState": "CA",
    }
    if status == "completed":
        fields["CallDuration"] = str(duration)
        fields["Duration"] = str((duration + 59) // 60)
    fields.update(extra)
    return fields


def whatsapp_message(
    phone_number_id: str, wa_from: str = "16505551234", text: str = "Does it come in another color?", **kw: Any
) -> dict:
    """A WhatsApp Cloud API 'messages' webhook with one text message."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": wa_from}],
                            "messages": [
                                {
                                    "from": wa_from,
                                    "id": kw.get("message_id", "wamid." + base64.b64encode(uuid.uuid4().bytes).decode()),
                                    "timestamp": str(kw.get("timestamp", 1795395342)),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def messenger_message(page_id: str, psid: str = "6789012345678901", text: str = "hello, world!", **kw: Any) -> dict:
    """A Messenger Platform 'messages' webhook with one text message."""
    return {
        "object": "page",
        "entry": [
            {
                "id": page_id,
                "time": 1795395342000,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": page_id},
                        "timestamp": 1795395342000,
                        "message": {"mid": kw.get("mid", "m_" + uuid.uuid4().hex), "text": text},
                    }
                ],
            }
        ],
    }


def standard_event(event_type: str = "invoice.paid") -> dict:
    return {
        "type": event_type,
        "timestamp": "2026-11-22T01:15:42.000Z",
        "data": {"invoice_id": "inv_" + uuid.uuid4().hex[:12], "amount": 150000, "currency": "EGP"},
    }


# --- signed deliveries ------------------------------------------------------------------


@dataclass
class Sign:
    """Builds ``ingest_webhook`` arguments signed the way each provider signs."""

    secrets: Secrets

    def twilio(self, params: dict, url: str = TWILIO_SMS_URL, signature: str | None = None) -> dict:
        if signature is None:
            signature = RequestValidator(self.secrets.twilio_auth_token).compute_signature(url, params)
        return {
            "provider": "twilio",
            "payload": params,
            "headers": {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
            "raw_body": urlencode(params),
            "url": url,
        }

    def meta(self, body: dict, raw: str | None = None) -> dict:
        raw = raw if raw is not None else json.dumps(body)
        digest = hmac.new(self.secrets.meta_app_secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
        return {
            "provider": "meta",
            "payload": body,
            "headers": {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"},
            "raw_body": raw,
        }

    def standard(self, body: dict, msg_id: str | None = None, timestamp: datetime | None = None) -> dict:
        msg_id = msg_id or "msg_" + uuid.uuid4().hex
        timestamp = timestamp or datetime.now(tz=timezone.utc)
        raw = json.dumps(body)
        signature = Webhook(self.secrets.standard_webhook_secret).sign(msg_id, timestamp, raw)
        return {
            "provider": "standard",
            "payload": body,
            "headers": {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(timestamp.timestamp())),
                "webhook-signature": signature,
            },
            "raw_body": raw,
        }

    def paymob(self, body: dict) -> dict:
        message = paymob_hmac_message(body["obj"])
        digest = hmac.new(self.secrets.paymob_hmac_secret.encode(), message.encode(), hashlib.sha512).hexdigest()
        return {"provider": "paymob", "payload": body, "url": f"{PAYMOB_URL}?hmac={digest}", "raw_body": json.dumps(body)}


@pytest.fixture
def sign(secrets: Secrets) -> Sign:
    return Sign(secrets)


# --- agents, channels, queries ------------------------------------------------------------


@dataclass(frozen=True)
class AgentOnNumber:
    id: uuid.UUID
    workspace_id: uuid.UUID
    phone_number: str
    channels: dict[str, uuid.UUID]


class Ops:
    """Agents and channels to deliver to, and the reads the tests assert on."""

    def __init__(self, db: psycopg.Connection, factories: Factories) -> None:
        self.db = db
        self.factories = factories

    def agent(
        self,
        workspace: Workspace | None = None,
        phone_number: str | None = None,
        channels: dict[str, str | None] | None = None,
    ) -> AgentOnNumber:
        """An active agent on a number, with channels {channel_type: external_id}."""
        ws = workspace or self.factories.workspace()
        number = phone_number or e164()
        agent = self.factories.agent(ws, phone_number=number)
        made = {
            channel_type: self.factories.channel(ws, agent, channel_type, external_id).id
            for channel_type, external_id in (channels if channels is not None else {"sms": None, "voice": None}).items()
        }
        return AgentOnNumber(agent.id, ws.id, number, made)

    def scalar(self, query: str, *params: Any) -> Any:
        row = self.db.execute(query, params).fetchone()
        assert row is not None
        return row[0]

    def webhook(self, webhook_id: int) -> dict[str, Any]:
        cur = self.db.execute("select * from public.webhook_queue where id = %s", (webhook_id,))
        row = cur.fetchone()
        assert row is not None, f"webhook {webhook_id} not stored"
        return dict(zip([c.name for c in cur.description or []], row))

    def count(self, table: str, where: str = "true", *params: Any) -> int:
        return int(self.scalar(f"select count(*) from public.{table} where {where}", *params))

    def usage(self, workspace_id: uuid.UUID, metric: str) -> float:
        return float(
            self.scalar(
                "select coalesce(sum(quantity), 0) from public.usage_events where workspace_id = %s and metric = %s",
                workspace_id,
                metric,
            )
        )

    def alerts(self, type_: str) -> list[dict[str, Any]]:
        cur = self.db.execute("select * from public.alerts where type = %s order by id", (type_,))
        return [dict(zip([c.name for c in cur.description or []], r)) for r in cur.fetchall()]

    def fail_inserts_into(self, table: str, message: str = "forced failure") -> None:
        """Make every insert into ``table`` raise, as a broken downstream step would."""
        self.db.execute(
            f"""
            create or replace function public.test_fail_{table}() returns trigger language plpgsql as $$
            begin raise exception '{message}'; end $$;
            create trigger test_fail_{table} before insert on public.{table}
            for each row execute function public.test_fail_{table}();
            """
        )

    def heal(self, table: str) -> None:
        self.db.execute(f"drop trigger test_fail_{table} on public.{table}")

    def make_due(self) -> None:
        """Move every pending retry into the past (instead of waiting for the backoff)."""
        self.db.execute(
            "update public.webhook_queue set next_attempt_at = now() - interval '1 second' where status = 'failed'"
        )


@pytest.fixture
def ops(db: psycopg.Connection, factories: Factories) -> Ops:
    return Ops(db, factories)


# --- delivering as providers do: acknowledged queued, then drained ------------------------


class Deliver:
    """``deliver(args)``: one delivery as a provider makes it, then the drain's pass.

    ``ingest_webhook`` answers ``queued`` for a new verified delivery (its default);
    ``drain_webhooks`` then processes it, as pg_cron's drain does within seconds. The
    answer is the acknowledgement with what the delivery became: ``status``,
    ``error`` (its last_error) and ``skip_reason`` read back from its row, and
    ``acknowledged`` (the status the call answered). Anything the call answered
    other than ``queued`` (duplicate, rejected, failed before verification, or a
    Paymob callback processed in the call) is returned as it was.
    """

    def __init__(self, rpc: Rpc, db: psycopg.Connection) -> None:
        self.rpc = rpc
        self.db = db

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        ack = self.rpc("ingest_webhook", args)
        if ack["status"] != "queued":
            return {**ack, "acknowledged": ack["status"]}
        drained = self.rpc("drain_webhooks", {})
        assert drained["drained"] >= 1, drained
        row = self.db.execute(
            "select status, last_error, skip_reason from public.webhook_queue where id = %s", (ack["webhook_id"],)
        ).fetchone()
        assert row is not None
        return {**ack, "acknowledged": "queued", "status": row[0], "error": row[1], "skip_reason": row[2]}


@pytest.fixture
def deliver(rpc: Rpc, db: psycopg.Connection) -> Deliver:
    return Deliver(rpc, db)
