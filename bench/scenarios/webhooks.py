"""Webhook ingestion scenarios (issues 5 and 13): ``ingest_webhook`` as service_role.

* ``webhooks_unique_sms``: acknowledging a realistic Twilio inbound SMS (20 form
  fields, signed with the auth token from Vault) to one of 100 known agents, each
  delivery new: verified, deduplicated and stored ``queued`` (the default). Vs
  ``insert_unique_key``, target >= 30%.
* ``webhooks_duplicate_sms``: the same kind of delivery, but one of 16 already
  processed: found to be a duplicate, stored as such, nothing processed. Vs
  ``insert_unique_key``, target >= 60%.
* ``webhooks_end_to_end_sms``: unique deliveries acknowledged and processed: each
  transaction acknowledges one, and every 100th delivery (by the pool's sequence)
  also runs ``drain_webhooks``. Drains run one at a time, so a client whose turn
  comes while one runs waits for it: the TPS is the pace at which deliveries are
  acknowledged and processed together (at most about 100 per client are still
  queued when a slice ends). Vs ``insert_unique_key``, target >= 20%.
* ``webhooks_unique_sms_in_call``: ``process_now => true``: verified, stored,
  normalized and metered in the call (the only path before the drain). No target.
* ``webhooks_floor_*``: the same writes as plain SQL (superuser, no function, no
  verification, no rule): the raw row stored queued; a duplicate's probe and copy;
  and end to end, the raw row plus, every 100th delivery, one set-based drain
  statement under the drain's lock (the queue rows' outcome, sms_events, the
  period totals and usage_events of up to 1,000 rows).

Unique deliveries come from a pool signed in setup, as the provider signs them:
Twilio computes X-Twilio-Signature (HMAC-SHA1 over the URL and the fields in
sorted order, laid out here in Python) on its side, and the database only
verifies it. Signing inside the measured statement billed the provider's HMAC,
and the parsing of a 20-field payload expression, to ingest_webhook. Each
transaction takes the next delivery of the pool through a sequence (shared by the
clients and surviving the paired runs' slices, so no delivery is ever sent
twice): every measured delivery is new, carries a valid signature and is verified
against the token in Vault. The pool lookup (one sequence step and one
primary-key probe) is measured with it. A run that outlasts the pool fails loudly
(a null payload is refused with 22023) rather than measuring anything else: POOL
deliveries last about a minute at 2,000 TPS.

Workspaces are on a plan whose limits a run cannot reach, with their usage period
rows made in setup, so every delivery takes the hot path.

``BURSTS`` holds the burst of 50,000 deliveries (bench/burst.py runs it): time to
absorb, time until all are processed, and the server's CPU seconds per 1,000.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from bench.burst import Burst
from bench.scenario import SERVICE_ROLE_SESSION, Scenario

AGENTS = 100
# Processed deliveries the duplicate scenario redelivers, one picked per transaction.
DUPLICATES = 16
# Signed unique deliveries made in setup (see the module doc).
POOL = 120_000
# Processed deliveries already in webhook_queue when a run starts (see SETUP).
BACKLOG = 5_000
TOKEN = "bench-twilio-auth-token-0123456789"
URL = "https://api.example.test/webhooks/twilio/sms"
ACCOUNT_SID = "AC4f2b9c0e1d3a5b7c9e0f1a2b3c4d5e6f"

# The inbound SMS form fields Twilio posts; {sid}, {to} and {from_} are SQL expressions.
FIELDS: dict[str, str] = {
    "ToCountry": "'US'",
    "ToState": "'CA'",
    "SmsMessageSid": "{sid}",
    "NumMedia": "'0'",
    "ToCity": "'SAN FRANCISCO'",
    "FromZip": "'94105'",
    "SmsSid": "{sid}",
    "FromState": "'CA'",
    "SmsStatus": "'received'",
    "FromCity": "'SAN FRANCISCO'",
    "Body": "'Hi, is the clinic open on Friday? I would like to book for 5pm.'",
    "FromCountry": "'US'",
    "To": "{to}",
    "MessagingServiceSid": "'MG9c2b0e1d3a5b7c9e0f1a2b3c4d5e6f70'",
    "ToZip": "'94107'",
    "NumSegments": "'1'",
    "MessageSid": "{sid}",
    "AccountSid": f"'{ACCOUNT_SID}'",
    "From": "{from_}",
    "ApiVersion": "'2010-04-01'",
}


def _payload_sql(sid: str, to: str, from_: str) -> str:
    pairs = ", ".join(f"'{k}', {v.format(sid=sid, to=to, from_=from_)}" for k, v in FIELDS.items())
    return f"jsonb_build_object({pairs})"


def _signature_sql(sid: str, to: str, from_: str) -> str:
    """Twilio's algorithm: URL, then name + value for each field sorted by name (code point order)."""
    parts = [f"'{URL}'"] + [f"'{k}' || {FIELDS[k].format(sid=sid, to=to, from_=from_)}" for k in sorted(FIELDS)]
    signed = " || ".join(parts)
    return f"encode(extensions.hmac(convert_to({signed}, 'UTF8'), convert_to('{TOKEN}', 'UTF8'), 'sha1'), 'base64')"


AGENT_NUMBER = "'+1415600' || lpad({n}::text, 4, '0')"

SETUP = f"""
    select vault.create_secret('{TOKEN}', 'twilio_auth_token');
    insert into auth.users (id, email)
    values ('00000000-0000-0000-0000-ffffffffffff', 'bench-owner@example.test');
    -- A plan whose limits a run cannot reach: the bench measures the path, not the refusal.
    insert into public.plans (key, name, is_paid, price_minor) values ('bench', 'Bench', true, 1);
    insert into public.plan_limits (plan_key, metric, soft_limit, hard_limit, unit_price_minor)
    select 'bench', key, 1e14, 1e15, 1 from public.usage_metrics;
    insert into public.workspaces (id, name, owner_id, plan_key)
    select
        ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
        'bench ' || g,
        '00000000-0000-0000-0000-ffffffffffff',
        'bench'
    from generate_series(1, {AGENTS}) as g;
    insert into public.agents (id, workspace_id, user_id, agent_id, phone_number, provider, status)
    select
        ('00000000-0000-0000-0001-' || lpad(g::text, 12, '0'))::uuid,
        ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
        '00000000-0000-0000-0000-ffffffffffff',
        'bench_agent_' || g,
        {AGENT_NUMBER.format(n="g")},
        'twilio',
        'active'
    from generate_series(1, {AGENTS}) as g;
    insert into public.agent_channels (workspace_id, agent_id, channel_type)
    select workspace_id, id, 'sms' from public.agents;
    select private.ensure_usage_period(id, private.usage_period()) from public.workspaces where name like 'bench %';
    -- Yesterday's deliveries: a production webhook_queue holds history until retention
    -- expires it. On an empty table, vacuum analyze leaves statistics that make a
    -- sequential scan look cheapest, and a connection's cached generic plan for the
    -- dedupe lookup would then scan the table as it grows for the rest of the run.
    insert into public.webhook_queue (
        provider, event_type, idempotency_key, status, headers, payload, url, received_at, signature_valid, attempts,
        processed_at
    )
    select 'twilio', 'twilio.sms', 'sms:SM' || md5('bench-backlog-' || g) || ':received', 'processed',
        jsonb_build_object('x-twilio-signature', md5(g::text)),
        jsonb_build_object('MessageSid', 'SM' || md5('bench-backlog-' || g), 'SmsStatus', 'received',
            'To', {AGENT_NUMBER.format(n=f"(g % {AGENTS} + 1)")}, 'From', '+14155559999', 'Body', 'Earlier message ' || g),
        '{URL}', now() - interval '1 day' + g * interval '10 ms', true, 1, now() - interval '1 day' + g * interval '10 ms'
    from generate_series(1, {BACKLOG}) as g;
"""

def _twilio_delivery(seed: str, agent: int) -> tuple[str, str]:
    """A signed inbound SMS as Twilio posts it: (payload JSON, headers JSON), signed here in Python."""
    sid = "SM" + hashlib.md5(seed.encode()).hexdigest()
    values = {"{sid}": sid, "{to}": f"+1415600{agent:04d}", "{from_}": "+14155559999"}
    payload = {key: values.get(expr, expr.strip("'")) for key, expr in FIELDS.items()}
    signed = URL + "".join(key + payload[key] for key in sorted(payload))
    signature = base64.b64encode(hmac.new(TOKEN.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    return json.dumps(payload), json.dumps({"X-Twilio-Signature": signature})


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# Redeliveries: the payload and headers travel in the statement as JSON text, the
# way PostgREST passes a request's arguments, not read from a table first.
DUPLICATE_DELIVERIES = [_twilio_delivery(f"bench-dup-{n}", n % AGENTS + 1) for n in range(1, DUPLICATES + 1)]

DUPLICATES_SETUP = (
    SETUP
    + f"""
    select public.ingest_webhook('twilio', d.payload::jsonb, d.headers::jsonb, null, '{URL}', process_now => true)
    from (values {", ".join(f"({_literal(p)}, {_literal(h)})" for p, h in DUPLICATE_DELIVERIES)}) as d (payload, headers);
    do $$
    begin
        if (select count(*) from public.webhook_queue where status = 'processed' and received_at = now()) <> {DUPLICATES} then
            raise exception 'bench setup: not every original of the duplicate scenario was processed';
        end if;
    end
    $$;
"""
)


def _per_duplicate(statement: str) -> str:
    """A pgbench script running ``statement`` for one of the duplicates, picked at random per transaction."""
    lines = [f"\\set d random(1, {DUPLICATES})"]
    for n, (payload, headers) in enumerate(DUPLICATE_DELIVERIES, start=1):
        lines.append(("\\if" if n == 1 else "\\elif") + f" :d = {n}")
        lines.append(statement.format(payload=_literal(payload), headers=_literal(headers)))
    lines.append("\\endif")
    return "\n".join(lines) + "\n"


UNIQUE_SETUP = (
    SETUP
    + f"""
    create schema if not exists bench;
    create table bench.twilio_pool (n bigint primary key, payload jsonb not null, headers jsonb not null);
    create sequence bench.twilio_pool_next;
    -- Materialized: each delivery's MessageSid and number are computed once, not per use.
    insert into bench.twilio_pool (n, payload, headers)
    with s as materialized (
        select g, 'SM' || md5('bench-unique-' || g) as sid, {AGENT_NUMBER.format(n=f"(g % {AGENTS} + 1)")} as to_number
        from generate_series(1, {POOL}) as g
    )
    select g, {_payload_sql("s.sid", "s.to_number", "'+14155559999'")},
        jsonb_build_object('X-Twilio-Signature', {_signature_sql("s.sid", "s.to_number", "'+14155559999'")})
    from s;
    grant usage on schema bench to service_role;
    grant select on bench.twilio_pool to service_role;
    grant usage on sequence bench.twilio_pool_next to service_role;
"""
)

# The next pooled delivery; past the pool's end the payload is null and ingest_webhook refuses it (22023).
UNIQUE_SCRIPT = f"""select public.ingest_webhook(provider => 'twilio', payload => d.payload, headers => d.headers, url => '{URL}')
from (select nextval('bench.twilio_pool_next') as n) as s
left join bench.twilio_pool as d on d.n = s.n;
"""

IN_CALL_SCRIPT = f"""select public.ingest_webhook(
    provider => 'twilio', payload => d.payload, headers => d.headers, url => '{URL}', process_now => true
)
from (select nextval('bench.twilio_pool_next') as n) as s
left join bench.twilio_pool as d on d.n = s.n;
"""

# Every DRAIN_EVERY-th delivery (by the pool's sequence, shared by the clients) also
# runs the drain. Drains run one at a time, so while one works the clients that
# reach their turn wait for it: the pace is what acknowledging and processing
# together sustain, and the queue never runs away from the measurement.
DRAIN_EVERY = 100

END_TO_END_SCRIPT = f"""select s.n,
    public.ingest_webhook(provider => 'twilio', payload => d.payload, headers => d.headers, url => '{URL}') ->> 'status'
        as status
from (select nextval('bench.twilio_pool_next') as n) as s
left join bench.twilio_pool as d on d.n = s.n \\gset
\\if :n % {DRAIN_EVERY} = 0
select public.drain_webhooks(1000);
\\endif
"""

DUPLICATE_SCRIPT = _per_duplicate(
    f"select public.ingest_webhook(provider => 'twilio', payload => {{payload}}, headers => {{headers}}, url => '{URL}');"
)

# The acknowledgement's write as one plain SQL statement (superuser, no function, no
# verification, no rule): the raw row stored queued, claiming its key.
FLOOR_ACK = f"""insert into public.webhook_queue (
    provider, event_type, idempotency_key, status, headers, payload, url, signature_valid, attempts
)
select 'twilio', 'twilio.sms', 'sms:' || (d.payload ->> 'MessageSid') || ':' || (d.payload ->> 'SmsStatus'), 'queued',
    d.headers, d.payload, '{URL}', true, 0
from (select nextval('bench.twilio_pool_next') as n) as s
inner join bench.twilio_pool as d on d.n = s.n"""

FLOOR_ACK_SCRIPT = FLOOR_ACK + ";\n"

# The drain's writes as one plain SQL statement, set-based: up to 1,000 queued rows
# become processed, their sms_events rows, the period totals (one UPDATE per
# workspace) and their usage_events.
FLOOR_DRAIN = """with c as (
    select q.id, q.payload
    from public.webhook_queue as q
    where q.status = 'queued'
    order by q.id
    limit 1000
    for update skip locked
), done as (
    update public.webhook_queue as q
    set status = 'processed', attempts = 1, processed_at = now()
    from c
    where q.id = c.id
    returning q.id
), e as (
    insert into public.sms_events (
        workspace_id, agent_id, channel_id, webhook_id, message_sid, sms_status, direction, from_number, to_number,
        body, num_segments, num_media
    )
    select a.workspace_id, a.id, ch.id, c.id, c.payload ->> 'MessageSid', 'received', 'inbound', c.payload ->> 'From',
        c.payload ->> 'To', c.payload ->> 'Body', 1, 0
    from c
    inner join public.agents as a on a.phone_number = c.payload ->> 'To'
    inner join public.agent_channels as ch on ch.agent_id = a.id and ch.channel_type = 'sms'
    returning id, workspace_id, message_sid
), u as (
    update public.usage_limits as l set used = l.used + t.n, updated_at = now()
    from (select workspace_id, count(*) as n from e group by workspace_id) as t
    where l.workspace_id = t.workspace_id and l.metric = 'sms'
        and l.period_start = date_trunc('month', now() at time zone 'utc')::date
    returning l.workspace_id, l.period_start, l.tier_snapshot_id
)
insert into public.usage_events (workspace_id, metric, quantity, period_start, tier_snapshot_id, idempotency_key, source)
select u.workspace_id, 'sms', 1, u.period_start, u.tier_snapshot_id, 'twilio_sms:' || e.message_sid, 'twilio'
from e inner join u on u.workspace_id = e.workspace_id"""

FLOOR_END_TO_END_SCRIPT = f"""{FLOOR_ACK}
returning currval('bench.twilio_pool_next') as n \\gset
\\if :n % {DRAIN_EVERY} = 0
begin;
select pg_advisory_xact_lock(4242, hashtext('webhook_drain'));
{FLOOR_DRAIN};
commit;
\\endif
"""

# A duplicate's unavoidable work as plain SQL: one probe for the original (the verified
# holder of the key, through webhook_queue_verified_key_idx), one raw copy stored.
FLOOR_DUPLICATE_SCRIPT = _per_duplicate(
    "with d as (select {payload}::jsonb as payload, {headers}::jsonb as headers)"
    " insert into public.webhook_queue ("
    " provider, event_type, idempotency_key, status, headers, payload, url, signature_valid, duplicate_of)"
    f" select 'twilio', 'twilio.sms', q.idempotency_key, 'duplicate', d.headers, d.payload, '{URL}', true, q.id"
    " from d inner join public.webhook_queue as q"
    " on q.provider = 'twilio' and q.signature_valid and q.status not in ('duplicate', 'rejected')"
    " and q.idempotency_key = 'sms:' || (d.payload ->> 'MessageSid') || ':' || (d.payload ->> 'SmsStatus');"
)

SCENARIOS: list[Scenario] = [
    Scenario(
        name="webhooks_unique_sms",
        description="ingest_webhook acknowledges a new signed Twilio SMS: verified, deduplicated, stored queued",
        baseline="insert_unique_key",
        target_ratio=0.30,
        session=SERVICE_ROLE_SESSION,
        setup=UNIQUE_SETUP,
        script=UNIQUE_SCRIPT,
    ),
    Scenario(
        name="webhooks_duplicate_sms",
        description="ingest_webhook: redelivery of one of 16 processed Twilio SMS (detect, store the duplicate copy)",
        baseline="insert_unique_key",
        target_ratio=0.60,
        session=SERVICE_ROLE_SESSION,
        setup=DUPLICATES_SETUP,
        script=DUPLICATE_SCRIPT,
    ),
    Scenario(
        name="webhooks_end_to_end_sms",
        description="new Twilio SMS acknowledged, and drained every 100th delivery: acknowledged and processed per second",
        baseline="insert_unique_key",
        target_ratio=0.20,
        session=SERVICE_ROLE_SESSION,
        setup=UNIQUE_SETUP,
        script=END_TO_END_SCRIPT,
    ),
    Scenario(
        name="webhooks_unique_sms_in_call",
        description="ingest_webhook with process_now: new Twilio SMS verified, stored, normalized and metered in the call",
        baseline="insert_unique_key",
        session=SERVICE_ROLE_SESSION,
        setup=UNIQUE_SETUP,
        script=IN_CALL_SCRIPT,
    ),
    Scenario(
        name="webhooks_floor_ack_sms",
        description="floor of webhooks_unique_sms: the raw row stored queued, as one plain SQL statement",
        baseline="insert_unique_key",
        setup=UNIQUE_SETUP,
        script=FLOOR_ACK_SCRIPT,
    ),
    Scenario(
        name="webhooks_floor_duplicate_sms",
        description="floor of webhooks_duplicate_sms: the probe for the original and the stored copy as plain SQL",
        baseline="insert_unique_key",
        setup=DUPLICATES_SETUP,
        script=FLOOR_DUPLICATE_SCRIPT,
    ),
    Scenario(
        name="webhooks_floor_end_to_end_sms",
        description="floor of webhooks_end_to_end_sms: the raw row, and every 100th a set-based plain-SQL drain",
        baseline="insert_unique_key",
        setup=UNIQUE_SETUP,
        script=FLOOR_END_TO_END_SCRIPT,
    ),
]

BURST = 50_000
BURST_SETUP = UNIQUE_SETUP.replace(f"generate_series(1, {POOL})", f"generate_series(1, {BURST})")
QUEUED = "select count(*) from public.webhook_queue where status = 'queued'"

BURSTS: list[Burst] = [
    Burst(
        name="webhooks_burst_50k",
        description="50,000 new signed Twilio SMS from 8 clients, acknowledged queued while one drain processes them",
        script=UNIQUE_SCRIPT,
        setup=BURST_SETUP,
        deliveries=BURST,
        session=SERVICE_ROLE_SESSION,
        # pg_cron's drain (private.drain_webhooks_continuously): a batch, a commit, again at once while
        # there is work, after 0.25 s when the queue was empty.
        drainer="select public.drain_webhooks(1000)",
        pending=QUEUED,
        baseline="insert_unique_key",
    ),
    Burst(
        name="webhooks_burst_50k_in_call",
        description="the same 50,000 with process_now: each verified, stored, normalized and metered in its call",
        script=IN_CALL_SCRIPT,
        setup=BURST_SETUP,
        deliveries=BURST,
        session=SERVICE_ROLE_SESSION,
        pending=QUEUED,
        baseline="insert_unique_key",
    ),
]
