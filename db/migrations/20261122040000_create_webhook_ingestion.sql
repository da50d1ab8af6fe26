-- Webhook ingestion: every delivery kept raw in webhook_queue before anything is done
-- with it, the normalized events it becomes (call_events, sms_events; chat messages go
-- to conversations/messages), and unknown_phone for numbers that match no agent.

create table public.webhook_queue (
    id bigint generated always as identity primary key,
    provider text not null check (provider in ('twilio', 'meta', 'paymob', 'standard')),
    event_type text,
    idempotency_key text not null check (length(idempotency_key) between 1 and 300),
    status text not null default 'received' check (
        status in ('received', 'processed', 'duplicate', 'unknown_phone', 'failed', 'rejected', 'dead_letter')
    ),
    headers jsonb not null default '{}' check (jsonb_typeof(headers) = 'object'),
    payload jsonb not null,
    raw_body text,
    url text,
    received_at timestamptz not null default now(),
    signature_valid boolean,
    duplicate_of bigint,
    attempts integer not null default 0 check (attempts >= 0),
    max_attempts integer not null default 6 check (max_attempts between 1 and 20),
    next_attempt_at timestamptz,
    last_error text,
    skip_reason text,
    processed_at timestamptz
);
comment on table public.webhook_queue is
'Every webhook delivery, stored raw before processing and kept whatever processing does (retention expires it).';
comment on column public.webhook_queue.status is
'received (being processed), processed, duplicate, unknown_phone, failed (will be retried), '
'rejected (bad signature or unusable payload; never processed), dead_letter (retries exhausted).';
comment on column public.webhook_queue.idempotency_key is
'From the provider''s own ids (CallSid+CallStatus, MessageSid+status, Meta message ids, Paymob transaction, '
'webhook-id), else sha256 of the canonical payload. Unique per provider among rows that claim it.';
comment on column public.webhook_queue.signature_valid is
'true: verified; false: rejected; null: the check itself could not run yet (e.g. missing secret).';
comment on column public.webhook_queue.duplicate_of is
'For a duplicate: the delivery it repeats. No foreign key: retention may expire either row first.';
comment on column public.webhook_queue.skip_reason is
'Processed but nothing downstream on purpose: channel_disabled, agent_inactive, workspace_suspended, ...';

-- The dedupe point. Rejected deliveries and the duplicates themselves do not claim
-- the key, so a forged copy can never shadow the genuine delivery that follows it.
create unique index webhook_queue_idempotency_idx on public.webhook_queue (provider, idempotency_key)
where status not in ('duplicate', 'rejected');
-- The retry sweeper's queue.
create index webhook_queue_retry_idx on public.webhook_queue (next_attempt_at, id) where status = 'failed';
-- Retention and replay by time range; rows needing attention by status.
create index webhook_queue_received_at_idx on public.webhook_queue (received_at);
create index webhook_queue_attention_idx on public.webhook_queue (status, received_at)
where status in ('failed', 'dead_letter', 'unknown_phone', 'rejected');

create table public.call_events (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    agent_id uuid references public.agents (id) on delete set null,
    channel_id uuid references public.agent_channels (id) on delete set null,
    webhook_id bigint,
    provider text not null default 'twilio',
    call_sid text not null,
    call_status text not null,
    direction text,
    from_number text,
    to_number text,
    duration_seconds integer check (duration_seconds >= 0),
    billable_minutes integer check (billable_minutes >= 0),
    occurred_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    constraint call_events_status_once unique (provider, call_sid, call_status)
);
comment on table public.call_events is
'Voice call status callbacks, one row per call and status. Completed calls record call_minutes usage.';
comment on column public.call_events.webhook_id is
'The webhook_queue row it came from (no foreign key: raw deliveries expire, events stay).';
create index call_events_workspace_id_idx on public.call_events (workspace_id, occurred_at desc);
create index call_events_agent_id_idx on public.call_events (agent_id);
create index call_events_channel_id_idx on public.call_events (channel_id);

create table public.sms_events (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    agent_id uuid references public.agents (id) on delete set null,
    channel_id uuid references public.agent_channels (id) on delete set null,
    webhook_id bigint,
    provider text not null default 'twilio',
    message_sid text not null,
    sms_status text not null,
    direction text not null check (direction in ('inbound', 'outbound')),
    from_number text,
    to_number text,
    body text,
    num_segments integer check (num_segments >= 0),
    num_media integer check (num_media >= 0),
    occurred_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    constraint sms_events_status_once unique (provider, message_sid, sms_status)
);
comment on table public.sms_events is
'Inbound SMS and outbound SMS status callbacks, one row per message and status. '
'Received and sent messages record sms usage. body is PII.';
comment on column public.sms_events.webhook_id is
'The webhook_queue row it came from (no foreign key: raw deliveries expire, events stay).';
create index sms_events_workspace_id_idx on public.sms_events (workspace_id, occurred_at desc);
create index sms_events_agent_id_idx on public.sms_events (agent_id);
create index sms_events_channel_id_idx on public.sms_events (channel_id);

create table public.unknown_phone (
    id bigint generated always as identity primary key,
    provider text not null,
    channel_type text not null,
    phone_number text not null,
    first_seen_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    seen_count integer not null default 1 check (seen_count >= 1),
    last_webhook_id bigint,
    constraint unknown_phone_receiver_once unique (provider, channel_type, phone_number)
);
comment on table public.unknown_phone is
'Receiving numbers (or Meta channel ids) that matched no active agent or channel, with how often they were seen.';
comment on column public.unknown_phone.phone_number is
'The receiving address looked up: an E.164 number (Twilio), a WhatsApp phone_number_id or a Messenger page id.';
comment on column public.unknown_phone.seen_count is 'Distinct deliveries to it (duplicates and replays not counted).';
comment on column public.unknown_phone.last_webhook_id is 'The latest webhook_queue row addressed to it.';

alter table public.webhook_queue enable row level security;
alter table public.call_events enable row level security;
alter table public.sms_events enable row level security;
alter table public.unknown_phone enable row level security;

revoke all on public.webhook_queue, public.call_events, public.sms_events, public.unknown_phone from anon;
-- Only the ingestion functions write these; signed-in users read through policies.
revoke insert, update, delete, truncate on public.webhook_queue, public.call_events, public.sms_events,
public.unknown_phone from authenticated;
