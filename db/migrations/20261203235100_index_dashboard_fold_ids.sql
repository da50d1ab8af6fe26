-- opsdb:no-transaction
-- The dashboard rollup reads two slices of call_events, sms_events and messages:
--   * the rows above its watermark (fold_id > folded_through): a btree on fold_id, new rows only;
--   * the history stored before fold_id existed (fold_id is null), one UTC day at a time: a partial btree on
--     the day the dashboard counts by. No new row enters it (every new row has a fold_id), so it costs the
--     writes nothing.
--
-- Concurrently: ingestion writes these tables all day. Every statement can run again; an interrupted build
-- leaves an invalid index, which the check below names.

create index concurrently if not exists call_events_fold_id_idx
on public.call_events (fold_id) where fold_id is not null;

create index concurrently if not exists sms_events_fold_id_idx
on public.sms_events (fold_id) where fold_id is not null;

create index concurrently if not exists messages_fold_id_idx
on public.messages (fold_id) where fold_id is not null;

create index concurrently if not exists call_events_unfolded_day_idx
on public.call_events (((occurred_at at time zone 'UTC')::date)) where fold_id is null;

create index concurrently if not exists sms_events_unfolded_day_idx
on public.sms_events (((occurred_at at time zone 'UTC')::date)) where fold_id is null;

create index concurrently if not exists messages_unfolded_day_idx
on public.messages (((created_at at time zone 'UTC')::date)) where fold_id is null;

do $$
declare
    v_invalid text;
begin
    select pg_catalog.string_agg(i.indexrelid::regclass::text, ', ')
    into v_invalid
    from pg_catalog.pg_index as i
    where not i.indisvalid
        and i.indexrelid in (
            pg_catalog.to_regclass('public.call_events_fold_id_idx'),
            pg_catalog.to_regclass('public.sms_events_fold_id_idx'),
            pg_catalog.to_regclass('public.messages_fold_id_idx'),
            pg_catalog.to_regclass('public.call_events_unfolded_day_idx'),
            pg_catalog.to_regclass('public.sms_events_unfolded_day_idx'),
            pg_catalog.to_regclass('public.messages_unfolded_day_idx')
        );
    if v_invalid is not null then
        raise exception 'invalid index (an interrupted build): %', v_invalid
        using hint = 'drop index concurrently each one named; then migrate again';
    end if;
end
$$;

comment on index public.call_events_fold_id_idx is 'Calls above the dashboard rollup''s watermark.';
comment on index public.sms_events_fold_id_idx is 'SMS above the dashboard rollup''s watermark.';
comment on index public.messages_fold_id_idx is 'Chat messages above the dashboard rollup''s watermark.';
comment on index public.call_events_unfolded_day_idx is
'Calls stored before fold_id existed, by UTC day: the history the dashboard rollup folds day by day.';
comment on index public.sms_events_unfolded_day_idx is
'SMS stored before fold_id existed, by UTC day: the history the dashboard rollup folds day by day.';
comment on index public.messages_unfolded_day_idx is
'Chat messages stored before fold_id existed, by UTC day: the history the dashboard rollup folds day by day.';
