-- The dashboard series per UTC day and workspace, kept incrementally, so a dashboard of any range reads its
-- days and not the history: private.dashboard_daily_totals, folded every minute by
-- private.fold_dashboard_rollups from call_events, sms_events and messages with the counting rules of
-- private.dashboard_events (the same meaning as public.dashboard_daily_metrics).
--
-- Folded like the usage rollups (private.usage_rollup_state, row 'dashboard_events'; 20261203235150): a watermark on
-- fold_id, moved only over ids whose transactions have all ended. The rows stored before fold_id existed
-- (fold_id null) are the history, folded oldest day first (private.dashboard_history_state). Readers add
-- what is not folded yet: history days after the history cursor, ids above the watermark.

create table private.dashboard_daily_totals (
    day date not null,
    workspace_id uuid not null,
    calls bigint not null default 0,
    call_minutes bigint not null default 0,
    failed_calls bigint not null default 0,
    sms_inbound bigint not null default 0,
    sms_outbound bigint not null default 0,
    failed_sms bigint not null default 0,
    messages_inbound bigint not null default 0,
    messages_outbound bigint not null default 0,
    event_count bigint not null check (event_count > 0),
    primary key (day, workspace_id)
);

comment on table private.dashboard_daily_totals is
'private.dashboard_events folded per UTC day and workspace: the counts of public.dashboard_daily_metrics '
'(errors = failed_calls + failed_sms) and how many events they hold.';

create index dashboard_daily_totals_workspace_id_idx on private.dashboard_daily_totals (workspace_id, day);

-- The same counts summed over every workspace, one row a day: a platform-wide range reads its days, not a row
-- per workspace and day.
create table private.dashboard_platform_totals (
    day date primary key,
    calls bigint not null default 0,
    call_minutes bigint not null default 0,
    failed_calls bigint not null default 0,
    sms_inbound bigint not null default 0,
    sms_outbound bigint not null default 0,
    failed_sms bigint not null default 0,
    messages_inbound bigint not null default 0,
    messages_outbound bigint not null default 0,
    event_count bigint not null check (event_count > 0)
);

comment on table private.dashboard_platform_totals is
'private.dashboard_daily_totals summed over every workspace, per UTC day (folded in the same transaction).';

insert into private.usage_rollup_state (name, folded_through) values ('dashboard_events', 0);

create table private.dashboard_history_state (
    name text primary key check (name = 'dashboard_events'),
    folded_through_day date,
    done boolean not null default false
);

comment on table private.dashboard_history_state is
'How far the dashboard rollup has folded the events stored before fold_id existed: every day up to '
'folded_through_day (all of them once done).';

insert into private.dashboard_history_state (name) values ('dashboard_events');

revoke all on private.dashboard_daily_totals, private.dashboard_platform_totals, private.dashboard_history_state
from public, anon, authenticated, service_role;

-- fold_id joins the countable events, so the fold and the readers select by it with the counting rules
-- written once.
create or replace view private.dashboard_events with (security_invoker = true) as
select
    c.workspace_id,
    c.occurred_at as event_at,
    1 as calls,
    coalesce(c.billable_minutes, 0)::bigint as call_minutes,
    (c.call_status = 'failed')::integer as failed_calls,
    0 as sms_inbound,
    0 as sms_outbound,
    0 as failed_sms,
    0 as messages_inbound,
    0 as messages_outbound,
    c.fold_id
from public.call_events as c
where c.call_status in ('completed', 'busy', 'no-answer', 'canceled', 'failed')

union all

select
    s.workspace_id,
    s.occurred_at as event_at,
    0 as calls,
    0::bigint as call_minutes,
    0 as failed_calls,
    (s.direction = 'inbound' and s.sms_status = 'received')::integer as sms_inbound,
    (s.direction = 'outbound' and s.sms_status = 'sent')::integer as sms_outbound,
    (s.sms_status in ('failed', 'undelivered'))::integer as failed_sms,
    0 as messages_inbound,
    0 as messages_outbound,
    s.fold_id
from public.sms_events as s
where (s.direction = 'inbound' and s.sms_status = 'received')
    or (s.direction = 'outbound' and s.sms_status = 'sent')
    or s.sms_status in ('failed', 'undelivered')

union all

select
    m.workspace_id,
    m.created_at as event_at,
    0 as calls,
    0::bigint as call_minutes,
    0 as failed_calls,
    0 as sms_inbound,
    0 as sms_outbound,
    0 as failed_sms,
    (m.direction = 'inbound')::integer as messages_inbound,
    (m.direction = 'outbound')::integer as messages_outbound,
    m.fold_id
from public.messages as m;

comment on view private.dashboard_events is
'One row per countable call, SMS and chat message event, with 0/1 flags and its fold_id: the counting rules of '
'dashboard_daily_metrics, weekly_insights and the dashboard rollup, written once.';
