-- public.dashboard_metrics: dashboard_daily_metrics of one workspace over a range of UTC days.
--
--   select * from public.dashboard_metrics(workspace_id := ..., from_day := '2026-11-01', to_day := '2026-11-30');
--   GET /rest/v1/rpc/dashboard_metrics?workspace_id=...&from_day=2026-11-01&to_day=2026-11-30
--   -> one row per day with events: workspace_id, day, calls, call_minutes, failed_calls, sms_inbound,
--      sms_outbound, failed_sms, messages_inbound, messages_outbound, errors
--
-- The same figures as the view, for the way a dashboard reads them. A filter on the
-- view's day is applied after grouping, to every event the workspace ever had; here
-- the range becomes a range on the events' own times, which the (workspace_id, time)
-- indexes of call_events, sms_events and messages answer.
-- Who: signed-in users and service_role. SECURITY INVOKER: RLS decides which
-- events count, so a member gets rows for their workspaces only (an empty result
-- for any other). Errors: 22023 invalid_range (a null bound, from_day after
-- to_day, or more than 366 days).
create or replace function public.dashboard_metrics(workspace_id uuid, from_day date, to_day date)
returns setof public.dashboard_daily_metrics
language plpgsql
stable
set search_path = ''
as $$
begin
    if dashboard_metrics.from_day is null or dashboard_metrics.to_day is null
        or dashboard_metrics.from_day > dashboard_metrics.to_day
        or dashboard_metrics.to_day - dashboard_metrics.from_day > 365 then
        raise exception using
            errcode = '22023',
            message = 'invalid_range',
            detail = pg_catalog.format('from_day %s, to_day %s', dashboard_metrics.from_day, dashboard_metrics.to_day),
            hint = 'from_day <= to_day, both UTC days, at most 366 days.';
    end if;
    return query
    select
        e.workspace_id,
        (e.event_at at time zone 'UTC')::date,
        sum(e.calls)::bigint,
        sum(e.call_minutes)::bigint,
        sum(e.failed_calls)::bigint,
        sum(e.sms_inbound)::bigint,
        sum(e.sms_outbound)::bigint,
        sum(e.failed_sms)::bigint,
        sum(e.messages_inbound)::bigint,
        sum(e.messages_outbound)::bigint,
        sum(e.failed_calls + e.failed_sms)::bigint
    from private.dashboard_events as e
    where e.workspace_id = dashboard_metrics.workspace_id
        and e.event_at >= dashboard_metrics.from_day::timestamp at time zone 'UTC'
        and e.event_at < (dashboard_metrics.to_day + 1)::timestamp at time zone 'UTC'
    group by e.workspace_id, (e.event_at at time zone 'UTC')::date
    order by 2;
end
$$;

comment on function public.dashboard_metrics(uuid, date, date) is
'dashboard_daily_metrics of one workspace for the UTC days from_day..to_day (inclusive), read through the '
'events'' time indexes; RLS applies (security invoker).';
revoke all on function public.dashboard_metrics(uuid, date, date) from public;
grant execute on function public.dashboard_metrics(uuid, date, date) to authenticated, service_role;
