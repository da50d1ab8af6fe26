-- opsdb:destructive webhook and event CHECKs become domains over the same types (same rules; tables rewritten once)
-- Webhook hot path: the same move as 20261122060000 for the usage tables.
--
-- PostgreSQL 15 rebuilds every table CHECK expression from its catalog text
-- (stringToNode + planning) each time a statement that writes the table starts.
-- Every delivery inserts a webhook_queue row (six CHECKs: measured at 28 us of a
-- 48 us insert), and every SMS or call an event row. A domain's check is the same
-- rule, kept planned in the type cache: about 3 us for all six. The rules do not
-- change: the same conditions hold for every row, whoever writes it.

create domain public.webhook_provider as text check (value in ('twilio', 'meta', 'paymob', 'standard'));
comment on domain public.webhook_provider is
'A webhook provider ingest_webhook accepts (webhook_queue.provider).';

create domain public.webhook_status as text check (
    value in ('received', 'processed', 'duplicate', 'unknown_phone', 'failed', 'rejected', 'dead_letter')
);
comment on domain public.webhook_status is
'What became of a stored delivery (webhook_queue.status; see the column comment).';

create domain public.webhook_idempotency_key as text check (length(value) between 1 and 300);
comment on domain public.webhook_idempotency_key is
'A delivery''s idempotency key: 1 to 300 characters (webhook_queue.idempotency_key).';

create domain public.webhook_headers as jsonb check (jsonb_typeof(value) = 'object');
comment on domain public.webhook_headers is
'Stored request headers: a JSON object of lower-case name to value (webhook_queue.headers).';

create domain public.webhook_attempts as integer check (value >= 0);
comment on domain public.webhook_attempts is
'Processing attempts made so far: never negative (webhook_queue.attempts).';

create domain public.webhook_max_attempts as integer check (value between 1 and 20);
comment on domain public.webhook_max_attempts is
'Processing attempts allowed before dead_letter: 1 to 20 (webhook_queue.max_attempts).';

create domain public.event_count as integer check (value >= 0);
comment on domain public.event_count is
'A count or duration reported by a provider: never negative (segments, media, seconds, minutes).';

create domain public.sms_direction as text check (value in ('inbound', 'outbound'));
comment on domain public.sms_direction is
'inbound (received by an agent) or outbound (sent by one) (sms_events.direction).';

-- The dedupe point's partial indexes (and ON CONFLICT's inference of them) read
-- status through the domain exactly as before: PostgreSQL rebuilds them here.
alter table public.webhook_queue
drop constraint webhook_queue_provider_check,
drop constraint webhook_queue_idempotency_key_check,
drop constraint webhook_queue_status_check,
drop constraint webhook_queue_headers_check,
drop constraint webhook_queue_attempts_check,
drop constraint webhook_queue_max_attempts_check,
alter column provider type public.webhook_provider,
alter column idempotency_key type public.webhook_idempotency_key,
alter column status type public.webhook_status,
alter column headers type public.webhook_headers,
alter column attempts type public.webhook_attempts,
alter column max_attempts type public.webhook_max_attempts;

alter table public.sms_events
drop constraint sms_events_direction_check,
drop constraint sms_events_num_segments_check,
drop constraint sms_events_num_media_check,
alter column direction type public.sms_direction,
alter column num_segments type public.event_count,
alter column num_media type public.event_count;

alter table public.call_events
drop constraint call_events_duration_seconds_check,
drop constraint call_events_billable_minutes_check,
alter column duration_seconds type public.event_count,
alter column billable_minutes type public.event_count;
