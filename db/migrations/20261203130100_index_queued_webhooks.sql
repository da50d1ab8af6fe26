-- opsdb:no-transaction
-- The drain's queue: queued deliveries, oldest first. Partial, so it holds only the
-- backlog (empty between spikes) and an idle drain's poll reads an empty index.
-- Concurrently: webhook_queue takes every delivery, and a plain build would stop
-- ingestion while it scans the table. An interrupted build leaves an invalid index,
-- which the check below names.
create index concurrently if not exists webhook_queue_queued_idx
on public.webhook_queue (id)
where status = 'queued';

do $$
begin
    if exists (
        select from pg_catalog.pg_index as i
        where i.indexrelid = pg_catalog.to_regclass('public.webhook_queue_queued_idx') and not i.indisvalid
    ) then
        raise exception 'webhook_queue_queued_idx is invalid (an interrupted build)'
        using hint = 'drop index concurrently public.webhook_queue_queued_idx; then migrate again';
    end if;
end
$$;

comment on index public.webhook_queue_queued_idx is
'The drain''s queue: queued deliveries by id (public.drain_webhooks claims from it with SKIP LOCKED).';
