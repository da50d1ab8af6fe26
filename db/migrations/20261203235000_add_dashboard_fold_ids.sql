-- The dashboard rollup (private.dashboard_daily_totals) is folded like the usage rollups: by a watermark on
-- an id taken from a sequence when a row is inserted. Calls, SMS and chat messages have uuid keys, so each
-- gets fold_id from one shared sequence: one watermark covers the three tables.
--
-- No table rewrite and no scan: the column is added without a default (rows already stored keep null: the
-- history, folded day by day by private.fold_dashboard_history), then the default applies to new rows only.
-- The NOT VALID check holds every new row to a fold_id, so null means "stored before this migration",
-- which the history fold relies on; the lock of the ALTERs waits for transactions writing these tables.

create sequence private.dashboard_fold_seq as bigint;

comment on sequence private.dashboard_fold_seq is
'fold_id of call_events, sms_events and messages: the order the dashboard rollup folds them in.';

revoke all on sequence private.dashboard_fold_seq from public, anon, authenticated;
-- service_role writes these tables directly (operator fixes, imports): its inserts draw a fold_id.
grant usage on sequence private.dashboard_fold_seq to service_role;

alter table public.call_events add column fold_id bigint;
alter table public.call_events alter column fold_id set default pg_catalog.nextval('private.dashboard_fold_seq');
alter table public.call_events add constraint call_events_fold_id_check check (fold_id is not null) not valid;

alter table public.sms_events add column fold_id bigint;
alter table public.sms_events alter column fold_id set default pg_catalog.nextval('private.dashboard_fold_seq');
alter table public.sms_events add constraint sms_events_fold_id_check check (fold_id is not null) not valid;

alter table public.messages add column fold_id bigint;
alter table public.messages alter column fold_id set default pg_catalog.nextval('private.dashboard_fold_seq');
alter table public.messages add constraint messages_fold_id_check check (fold_id is not null) not valid;

comment on column public.call_events.fold_id is
'Order of recording for the dashboard rollup (private.dashboard_fold_seq); null: stored before the rollup existed.';
comment on column public.sms_events.fold_id is
'Order of recording for the dashboard rollup (private.dashboard_fold_seq); null: stored before the rollup existed.';
comment on column public.messages.fold_id is
'Order of recording for the dashboard rollup (private.dashboard_fold_seq); null: stored before the rollup existed.';
