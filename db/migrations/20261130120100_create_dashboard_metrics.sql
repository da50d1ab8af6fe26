-- Dashboard metrics: calls, SMS, chat messages and errors per workspace and UTC day.
--
-- Two layers, so that each counting rule is written once:
--   private.dashboard_events         one row per countable event, with its time and 0/1 flags;
--   public.dashboard_daily_metrics   those rows summed per workspace and UTC day (what apps read).
-- generate_weekly_insights sums private.dashboard_events over a week's time range, so the
-- weekly figures and the daily dashboard can never disagree. Both views are
-- security_invoker: a reader sees only the events RLS lets them read (members: their
-- workspaces; platform admins: calls and SMS of every workspace, but chat messages only
-- of the workspaces they belong to, since message rows are member-only PII).
--
-- Rules:
--   calls         a call counts once, when it ends: its terminal status event (completed,
--                 busy, no-answer, canceled, failed; call_events keeps one row per status);
--   call_minutes  billable minutes (set on the completed event only);
--   sms_inbound   received SMS; sms_outbound: SMS sent (status sent);
--   failed_sms    status failed or undelivered; failed_calls: call status failed;
--   errors        failed_calls + failed_sms;
--   messages_*    chat messages by direction, at the time they were stored (created_at).
-- Times are when the platform recorded the event (occurred_at / created_at), so a filter
-- on them uses the tables' (workspace_id, time) indexes.

create view private.dashboard_events with (security_invoker = true) as
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
    0 as messages_outbound
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
    0 as messages_outbound
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
    (m.direction = 'outbound')::integer as messages_outbound
from public.messages as m;

comment on view private.dashboard_events is
'One row per countable call, SMS and chat message event, with 0/1 flags: the counting rules of '
'dashboard_daily_metrics and weekly_insights, written once.';

create view public.dashboard_daily_metrics with (security_invoker = true) as
select
    e.workspace_id,
    (e.event_at at time zone 'UTC')::date as day,
    sum(e.calls)::bigint as calls,
    sum(e.call_minutes)::bigint as call_minutes,
    sum(e.failed_calls)::bigint as failed_calls,
    sum(e.sms_inbound)::bigint as sms_inbound,
    sum(e.sms_outbound)::bigint as sms_outbound,
    sum(e.failed_sms)::bigint as failed_sms,
    sum(e.messages_inbound)::bigint as messages_inbound,
    sum(e.messages_outbound)::bigint as messages_outbound,
    sum(e.failed_calls + e.failed_sms)::bigint as errors
from private.dashboard_events as e
group by e.workspace_id, (e.event_at at time zone 'UTC')::date;

comment on view public.dashboard_daily_metrics is
'Dashboard metrics per workspace and UTC day: calls (counted when they end), call minutes, SMS in and out, '
'chat messages in and out, and errors (failed calls, failed or undelivered SMS). Days without events have no row. '
'security_invoker: members see their workspaces only.';

revoke all on private.dashboard_events from public, anon;
grant select on private.dashboard_events to authenticated, service_role;
revoke all on public.dashboard_daily_metrics from public, anon, authenticated, service_role;
grant select on public.dashboard_daily_metrics to authenticated, service_role;
