-- opsdb:no-transaction
-- The deliveries that need attention (failed, dead_letter, rejected) with what the
-- monitoring signals group and filter them by, so public.monitoring_signals (the
-- console's Overview, `opsdb metrics`) counts the backlogs from the index alone
-- instead of one heap page per dead letter. Partial: ingestion of a delivery that
-- is processed never touches it.

-- Built concurrently: webhook_queue takes every delivery, and a plain build would stop
-- ingestion while it scans the table. A build interrupted half-way leaves an invalid
-- index, which the check below names.
create index concurrently if not exists webhook_queue_attention_idx
on public.webhook_queue (status, received_at) include (provider, event_type, signature_valid)
where status in ('failed', 'dead_letter', 'rejected');

do $$
begin
    if exists (
        select from pg_catalog.pg_index as i
        where i.indexrelid = pg_catalog.to_regclass('public.webhook_queue_attention_idx') and not i.indisvalid
    ) then
        raise exception 'webhook_queue_attention_idx is invalid (an interrupted build)'
        using hint = 'drop index concurrently public.webhook_queue_attention_idx; then migrate again';
    end if;
end
$$;

comment on index public.webhook_queue_attention_idx is
'Deliveries that need attention with their provider, event type and signature verdict: the monitoring signals '
'count the failure backlogs from the index alone (private.monitoring_signal_counts).';
