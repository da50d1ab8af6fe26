-- opsdb:no-transaction
-- Retention deletes acknowledged alerts by acknowledged_at, continuing from the last key of each batch; without an
-- index every batch sorted the whole alerts table. Partial: open alerts (acknowledged_at null) are never expired.
-- Concurrently: alerts are raised by every job and by usage thresholds; an interrupted build leaves an invalid
-- index, which the check below names.
create index concurrently if not exists alerts_acknowledged_idx
on public.alerts (acknowledged_at, id)
where acknowledged_at is not null;

do $$
begin
    if exists (
        select from pg_catalog.pg_index as i
        where i.indexrelid = pg_catalog.to_regclass('public.alerts_acknowledged_idx') and not i.indisvalid
    ) then
        raise exception 'alerts_acknowledged_idx is invalid (an interrupted build)'
        using hint = 'drop index concurrently public.alerts_acknowledged_idx; then migrate again';
    end if;
end
$$;

comment on index public.alerts_acknowledged_idx is
'Acknowledged alerts by when, for retention''s batches (acknowledged_alerts).';
