-- opsdb:no-transaction
-- Reconciliation and weekly insights read usage_events by time: the month-wide BRIN on period_start made a
-- one-day reconciliation read the whole month. Events arrive in occurred_at order, so a BRIN summarises it well
-- and costs an insert next to nothing (record_usage is benchmarked).
-- Concurrently: usage_events is never purged and every record_usage writes it.
create index concurrently if not exists usage_events_occurred_at_brin_idx
on public.usage_events using brin (occurred_at);
