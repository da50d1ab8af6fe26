"""RLS matrix rows for the webhook tables (format: spec.py).

Only the ingestion functions write them (service_role; signed-in users have no
write grant). Raw deliveries and unknown numbers are an operations view for
platform admins; a workspace's call and SMS events are read by its members.
"""

from __future__ import annotations

import uuid

from tests.security.rls_matrix.spec import Table, World


def _delivery(w: World) -> dict:
    return {
        "provider": "twilio",
        "idempotency_key": "sms:SM" + uuid.uuid4().hex + ":received",
        "status": "processed",
        "payload": {"MessageSid": "SM0", "SmsStatus": "received"},
    }


def _call(w: World) -> dict:
    return {"workspace_id": w.a, "call_sid": "CA" + uuid.uuid4().hex, "call_status": "completed"}


def _sms(w: World) -> dict:
    return {"workspace_id": w.a, "message_sid": "SM" + uuid.uuid4().hex, "sms_status": "received", "direction": "inbound"}


def _unknown(w: World) -> dict:
    return {"provider": "twilio", "channel_type": "sms", "phone_number": "+1415" + str(uuid.uuid4().int)[:7]}


ADMIN_ONLY = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  hidden   hidden  hidden  hidden   ok      ok
    insert  denied  denied   denied  denied  denied   denied  ok
    update  denied  denied   denied  denied  denied   denied  ok
    delete  denied  denied   denied  denied  denied   denied  ok
"""

WORKSPACE_READ = """
            anon    member_a admin_a owner_a member_b p_admin service
    select  denied  ok       ok      ok      hidden   ok      ok
    insert  denied  denied   denied  denied  denied   denied  ok
    update  denied  denied   denied  denied  denied   denied  ok
    delete  denied  denied   denied  denied  denied   denied  ok
"""

TABLES = [
    Table(
        "webhook_queue",
        seed=lambda w: w.insert("webhook_queue", **_delivery(w)),
        insert=_delivery,
        update={"last_error": "matrix probe"},
        expect=ADMIN_ONLY,
    ),
    Table(
        "unknown_phone",
        seed=lambda w: w.insert("unknown_phone", **_unknown(w)),
        insert=_unknown,
        update={"seen_count": 2},
        expect=ADMIN_ONLY,
    ),
    Table(
        "call_events",
        seed=lambda w: w.insert("call_events", **_call(w)),
        insert=_call,
        update={"duration_seconds": 61},
        expect=WORKSPACE_READ,
    ),
    Table(
        "sms_events",
        seed=lambda w: w.insert("sms_events", **_sms(w)),
        insert=_sms,
        update={"num_segments": 2},
        # Bodies and numbers are PII: platform staff read them masked, through public.sms_events_masked.
        expect="""
                    anon    member_a admin_a owner_a member_b p_admin service
            select  denied  ok       ok      ok      hidden   hidden  ok
            insert  denied  denied   denied  denied  denied   denied  ok
            update  denied  denied   denied  denied  denied   denied  ok
            delete  denied  denied   denied  denied  denied   denied  ok
        """,
    ),
]
