-- opsdb:no-transaction
-- Billing reads one period's totals grouped by workspace, metric and tier snapshot. The primary key leads with
-- workspace_id, so reading it in that order for one period walked every period's entries; an index that leads
-- with the period and then has the grouping order reads that period's entries only, already sorted. It
-- replaces private.usage_period_totals_period_start_idx, a prefix of it.
-- Concurrently: the fold (pg_cron, every minute) writes these totals; an interrupted build leaves an invalid
-- index, which the check below names.
create index concurrently if not exists usage_period_totals_period_idx
on private.usage_period_totals (period_start, workspace_id, metric, tier_snapshot_id);

do $$
begin
    if exists (
        select from pg_catalog.pg_index as i
        where i.indexrelid = pg_catalog.to_regclass('private.usage_period_totals_period_idx') and not i.indisvalid
    ) then
        raise exception 'usage_period_totals_period_idx is invalid (an interrupted build)'
        using hint = 'drop index concurrently private.usage_period_totals_period_idx; then migrate again';
    end if;
end
$$;

drop index concurrently if exists private.usage_period_totals_period_start_idx;

comment on index private.usage_period_totals_period_idx is
'One period''s usage totals in billing''s grouping order (workspace, metric, tier snapshot).';
