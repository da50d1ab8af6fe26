-- opsdb:no-transaction
-- The dashboard of one UTC day and weekly insights read the calls, SMS, chat messages and ledger entries of
-- their days, for every workspace at once. These tables are written in time order, so a BRIN index on the
-- UTC day (the expression public.dashboard_daily_metrics groups and filters by) or on the time narrows a
-- day to its block ranges, and costs the writes next to nothing (a btree would be one more index insert on
-- every delivery and every deduct_credits).
--
-- Concurrently: ingestion writes these tables all day. Every statement can run again; an interrupted build
-- leaves an invalid index, which the check below names.

create index concurrently if not exists call_events_day_brin_idx
on public.call_events using brin (((occurred_at at time zone 'UTC')::date));

create index concurrently if not exists sms_events_day_brin_idx
on public.sms_events using brin (((occurred_at at time zone 'UTC')::date));

create index concurrently if not exists messages_day_brin_idx
on public.messages using brin (((created_at at time zone 'UTC')::date));

create index concurrently if not exists wallet_ledger_created_at_brin_idx
on public.wallet_ledger using brin (created_at);

do $$
declare
    v_invalid text;
begin
    select pg_catalog.string_agg(i.indexrelid::regclass::text, ', ')
    into v_invalid
    from pg_catalog.pg_index as i
    where not i.indisvalid
        and i.indexrelid in (
            pg_catalog.to_regclass('public.call_events_day_brin_idx'),
            pg_catalog.to_regclass('public.sms_events_day_brin_idx'),
            pg_catalog.to_regclass('public.messages_day_brin_idx'),
            pg_catalog.to_regclass('public.wallet_ledger_created_at_brin_idx')
        );
    if v_invalid is not null then
        raise exception 'invalid index (an interrupted build): %', v_invalid
        using hint = 'drop index concurrently each one named; then migrate again';
    end if;
end
$$;

comment on index public.call_events_day_brin_idx is
'Calls of a UTC day, for every workspace (dashboards, weekly insights).';
comment on index public.sms_events_day_brin_idx is
'SMS of a UTC day, for every workspace (dashboards, weekly insights).';
comment on index public.messages_day_brin_idx is
'Chat messages of a UTC day, for every workspace (dashboards, weekly insights).';
comment on index public.wallet_ledger_created_at_brin_idx is
'Ledger entries of a week, for every workspace (weekly insights).';
