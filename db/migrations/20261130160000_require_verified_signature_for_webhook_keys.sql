-- opsdb:no-transaction
-- Only a delivery whose signature passed claims its idempotency key, so an unchecked one never shadows the genuine.
--
-- The old unique index counted every row but duplicates and rejected ones, so a
-- delivery stored failed because its signature check could not run (signature_valid
-- null) held the key: the genuine copy arriving next was stored as its duplicate, and
-- when the sweeper later rejected the first row nothing was ever processed. Now the
-- key's holder is the verified row; an unchecked row claims the key only when the
-- sweeper or a replay verifies it (private._run_webhook), and becomes a duplicate of
-- the verified holder if one exists by then. ingest_webhook's ON CONFLICT inference
-- clause and every lookup of "the key's holder" use this same predicate.
-- Every row the new index covers was covered by the old one, so building it cannot fail.

-- Built and dropped concurrently: webhook_queue takes every delivery, and a plain build
-- would stop ingestion while it scans the table. Every statement can run again, so a
-- run interrupted half-way is simply run again; a build interrupted half-way leaves an
-- invalid index, which the check below names.
create unique index concurrently if not exists webhook_queue_verified_key_idx
on public.webhook_queue (provider, idempotency_key)
where signature_valid and status not in ('duplicate', 'rejected');

do $$
begin
    if exists (
        select from pg_catalog.pg_index as i
        where i.indexrelid = pg_catalog.to_regclass('public.webhook_queue_verified_key_idx') and not i.indisvalid
    ) then
        raise exception 'webhook_queue_verified_key_idx is invalid (an interrupted build)'
        using hint = 'drop index concurrently public.webhook_queue_verified_key_idx; then migrate again';
    end if;
end
$$;

drop index concurrently if exists public.webhook_queue_idempotency_idx;

comment on index public.webhook_queue_verified_key_idx is
'The dedupe point: one verified (signature_valid), non-duplicate, non-rejected row per provider and key.';

comment on column public.webhook_queue.idempotency_key is
'From the provider''s own ids (CallSid+CallStatus, MessageSid+status, Meta message ids, Paymob transaction, '
'webhook-id), else sha256 of the canonical payload. Unique per provider among the verified rows that claim it '
'(webhook_queue_verified_key_idx): a row whose signature was not checked yet claims nothing.';

comment on column public.webhook_queue.signature_valid is
'true: verified (only such a row claims its idempotency key); false: rejected; null: the check itself could not '
'run yet (e.g. missing secret): the row is failed, claims no key, and is verified by the sweeper or a replay.';
