-- public.generate_weekly_insights: one public.weekly_insights row per workspace for
-- an ISO week (Monday to Monday, UTC). pg_cron runs it on Mondays for the week just
-- ended; anyone with service_role may run it again by hand, for any finished week.
--
--   select public.generate_weekly_insights();                  -- the last complete week
--   select public.generate_weekly_insights('2026-11-16');      -- that week (a Monday)
--   -> {job_run_id, status, week_start, workspaces, failed, errors: [{step, sqlstate, message}]}
--
-- week_start must be a Monday whose week is over (22023 invalid_week_start /
-- week_not_over otherwise; nothing is written, not even a job_runs row).
--
-- Which workspaces: every workspace created before the week ended, whatever its
-- status. A suspended or disabled workspace still gets its insights: the kill
-- switch stops its traffic, not its reporting, and its members and staff still
-- want to see the week that led to the suspension (its figures are simply zero
-- once nothing flows). A workspace without activity gets a row of zeros, so the
-- change against the week before is always defined.
--
-- The figures of every workspace are read in one pass over the two weeks (the week
-- and the one before), not workspace by workspace over each table. Writing them is
-- one step per workspace in its own sub-transaction: a workspace that fails is
-- undone and recorded in the run's errors (step = its id; status partial, one
-- job_failure alert), and the others still commit. Re-running a week upserts the
-- same rows with the same figures (given the same source rows); only job_run_id
-- and generated_at change. The figures of the week before are computed from the
-- source tables by the same code, not read from its stored row, so the change
-- does not depend on whether or when that week was generated.

-- The figures of every workspace for a week and the week before, as jsonb objects
-- (the columns of weekly_insights, usage as {metric: quantity}), read once for all
-- workspaces: each source is read for those two weeks only, from its index on time
-- (the BRIN on the UTC day of calls, SMS and chat messages, the daily usage totals,
-- the ledger's BRIN on time, the index of webhook deliveries by status and time,
-- the alerts' index on time), never per workspace and never beyond the two weeks.
-- Invoker: only the definer job below calls it, and reads every workspace's rows.

create or replace function private._weekly_insight_figures_all(week_start date)
returns table (workspace_id uuid, current_figures jsonb, previous_figures jsonb)
language sql
stable
set search_path = ''
-- One large query over many sources: JIT compiling it takes seconds, longer than running it.
set jit = off
as $$
    with workspaces as (
        select w.id
        from public.workspaces as w
        where w.created_at < (_weekly_insight_figures_all.week_start + 7)::timestamp at time zone 'UTC'
    ),

    -- Calls, SMS, chat messages: the dashboard's counting rules (private.dashboard_events).
    events as (
        select
            e.workspace_id,
            (e.event_at at time zone 'UTC')::date >= _weekly_insight_figures_all.week_start as is_current,
            pg_catalog.jsonb_build_object(
                'calls', sum(e.calls),
                'call_minutes', sum(e.call_minutes),
                'failed_calls', sum(e.failed_calls),
                'sms_inbound', sum(e.sms_inbound),
                'sms_outbound', sum(e.sms_outbound),
                'failed_sms', sum(e.failed_sms),
                'messages_inbound', sum(e.messages_inbound),
                'messages_outbound', sum(e.messages_outbound),
                'errors', sum(e.failed_calls + e.failed_sms)
            ) as figures
        from private.dashboard_events as e
        where (e.event_at at time zone 'UTC')::date >= _weekly_insight_figures_all.week_start - 7
            and (e.event_at at time zone 'UTC')::date < _weekly_insight_figures_all.week_start + 7
        group by 1, 2
    ),

    usage as (
        select u.workspace_id, u.is_current, pg_catalog.jsonb_object_agg(u.metric, u.quantity) as figures
        from (
            select
                d.workspace_id,
                d.usage_date >= _weekly_insight_figures_all.week_start as is_current,
                d.metric,
                sum(d.quantity) as quantity
            from private.usage_daily_live as d
            where d.usage_date >= _weekly_insight_figures_all.week_start - 7 and d.usage_date < _weekly_insight_figures_all.week_start + 7
            group by 1, 2, 3
        ) as u
        group by 1, 2
    ),

    credits as (
        select
            l.workspace_id,
            l.created_at >= _weekly_insight_figures_all.week_start::timestamp at time zone 'UTC' as is_current,
            pg_catalog.jsonb_build_object(
                'credits_spent', coalesce(-sum(l.amount) filter (where l.kind = 'deduct'), 0),
                'credits_granted', coalesce(sum(l.amount) filter (where l.kind = 'grant'), 0)
            ) as figures
        from public.wallet_ledger as l
        where l.created_at >= (_weekly_insight_figures_all.week_start - 7)::timestamp at time zone 'UTC'
            and l.created_at < (_weekly_insight_figures_all.week_start + 7)::timestamp at time zone 'UTC'
        group by 1, 2
    ),

    -- Webhook deliveries carry no workspace: they are attributed by the numbers and
    -- channel ids they name, to every workspace with an agent on that number or a
    -- channel with that id. Unknown numbers (unknown_phone) belong to no workspace.
    deliveries as (
        select
            q.id,
            q.provider,
            q.payload,
            q.status in ('failed', 'dead_letter') as is_failure,
            q.received_at >= _weekly_insight_figures_all.week_start::timestamp at time zone 'UTC' as is_current
        from public.webhook_queue as q
        where q.status in ('failed', 'dead_letter', 'rejected')
            and q.received_at >= (_weekly_insight_figures_all.week_start - 7)::timestamp at time zone 'UTC'
            and q.received_at < (_weekly_insight_figures_all.week_start + 7)::timestamp at time zone 'UTC'
    ),

    -- The numbers and channel ids each delivery names, one row each, so every match is an equality (a hash join).
    named as (
        select d.id, d.is_failure, d.is_current, 'number' as kind, n.value as external_id
        from deliveries as d
        cross join lateral (values (d.payload ->> 'To'), (d.payload ->> 'From')) as n (value)
        where d.provider = 'twilio' and n.value is not null
        union all
        -- Messenger names the page in entry[].id, WhatsApp the number in metadata.phone_number_id.
        select d.id, d.is_failure, d.is_current, 'channel', x.external_id
        from deliveries as d
        cross join lateral (
            select i.id #>> '{}' as external_id
            from pg_catalog.jsonb_path_query(d.payload, 'lax $.entry[*].id') as i (id)
            union all
            select n.id #>> '{}'
            from pg_catalog.jsonb_path_query(d.payload, 'lax $.entry[*].changes[*].value.metadata.phone_number_id')
                as n (id)
        ) as x
        where d.provider = 'meta'
    ),

    attributed as (
        select n.id, n.is_failure, n.is_current, a.workspace_id
        from named as n
        inner join public.agents as a on n.kind = 'number' and a.phone_number = n.external_id
        union
        select n.id, n.is_failure, n.is_current, c.workspace_id
        from named as n
        inner join public.agent_channels as c on n.kind = 'channel' and c.external_id = n.external_id
    ),

    webhooks as (
        select
            t.workspace_id,
            t.is_current,
            pg_catalog.jsonb_build_object(
                'webhook_failures', count(*) filter (where t.is_failure),
                'webhooks_rejected', count(*) filter (where not t.is_failure)
            ) as figures
        from attributed as t
        group by 1, 2
    ),

    alerts as (
        select
            al.workspace_id,
            al.created_at >= _weekly_insight_figures_all.week_start::timestamp at time zone 'UTC' as is_current,
            count(*)::integer as raised
        from public.alerts as al
        where al.created_at >= (_weekly_insight_figures_all.week_start - 7)::timestamp at time zone 'UTC'
            and al.created_at < (_weekly_insight_figures_all.week_start + 7)::timestamp at time zone 'UTC'
            and al.workspace_id is not null
        group by 1, 2
    ),

    zero as (
        select
            '{"calls": 0, "call_minutes": 0, "failed_calls": 0, "sms_inbound": 0, "sms_outbound": 0,
              "failed_sms": 0, "messages_inbound": 0, "messages_outbound": 0, "errors": 0, "credits_spent": 0,
              "credits_granted": 0, "webhook_failures": 0, "webhooks_rejected": 0}'::jsonb as figures
    ),

    figures as (
        select
            w.id as workspace_id,
            c.is_current,
            zero.figures
            || coalesce(ev.figures, '{}')
            || coalesce(cr.figures, '{}')
            || coalesce(wh.figures, '{}')
            || pg_catalog.jsonb_build_object(
                'alerts_raised', coalesce(al.raised, 0), 'usage', coalesce(us.figures, '{}')
            ) as figures
        from workspaces as w
        cross join (values (true), (false)) as c (is_current)
        cross join zero
        left join events as ev on w.id = ev.workspace_id and c.is_current = ev.is_current
        left join usage as us on w.id = us.workspace_id and c.is_current = us.is_current
        left join credits as cr on w.id = cr.workspace_id and c.is_current = cr.is_current
        left join webhooks as wh on w.id = wh.workspace_id and c.is_current = wh.is_current
        left join alerts as al on w.id = al.workspace_id and c.is_current = al.is_current
    )

    select
        f.workspace_id,
        (pg_catalog.array_agg(f.figures) filter (where f.is_current))[1],
        (pg_catalog.array_agg(f.figures) filter (where not f.is_current))[1]
    from figures as f
    group by f.workspace_id
    order by f.workspace_id
$$;

comment on function private._weekly_insight_figures_all(date) is
'The weekly_insights figures of every workspace for the ISO week starting week_start (UTC) and the week before, '
'read once from the two weeks of each source table.';
revoke all on function private._weekly_insight_figures_all(date) from public;

-- {previous, delta, percent} for one figure.
create or replace function private._weekly_insight_change(current_value numeric, previous_value numeric)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.jsonb_build_object(
        'previous', coalesce(previous_value, 0),
        'delta', coalesce(current_value, 0) - coalesce(previous_value, 0),
        'percent', case
            when coalesce(previous_value, 0) <> 0 then
                pg_catalog.round((coalesce(current_value, 0) - previous_value) * 100 / previous_value, 1)
        end
    )
$$;

comment on function private._weekly_insight_change(numeric, numeric) is
'One figure''s change against the week before: {previous, delta, percent} (percent null when previous is 0).';
revoke all on function private._weekly_insight_change(numeric, numeric) from public;

create or replace function private._generate_weekly_insights(week_start date default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_today date := (pg_catalog.now() at time zone 'UTC')::date;
    v_week date := coalesce(
        _generate_weekly_insights.week_start,
        pg_catalog.date_trunc('week', pg_catalog.now() at time zone 'UTC')::date - 7
    );
    v_run bigint;
    v_workspace uuid;
    v_current jsonb;
    v_previous jsonb;
    v_change jsonb;
    v_key text;
    v_errors jsonb := '[]'::jsonb;
    v_ok integer := 0;
    v_state text;
    v_message text;
    v_status text;
begin
    if not pg_catalog.isfinite(v_week) or extract(isodow from v_week) <> 1 then
        raise exception using
            errcode = '22023',
            message = 'invalid_week_start',
            detail = pg_catalog.format('week_start %s is not a Monday', v_week),
            hint = 'Pass the Monday (UTC) an ISO week starts on, or null for the last complete week.';
    end if;
    if v_week + 7 > v_today then
        raise exception using
            errcode = '22023',
            message = 'week_not_over',
            detail = pg_catalog.format('the week of %s ends on %s (UTC); today is %s', v_week, v_week + 7, v_today),
            hint = 'Insights are generated for finished weeks only; pass an earlier Monday or null.';
    end if;

    v_run := private._job_run_start('weekly_insights', pg_catalog.jsonb_build_object('week_start', v_week));
    for v_workspace, v_current, v_previous in
        select f.workspace_id, f.current_figures, f.previous_figures
        from private._weekly_insight_figures_all(v_week) as f
    loop
        begin
            v_change := '{}';
            for v_key in select k from pg_catalog.jsonb_object_keys(v_current) as k where k <> 'usage' loop
                v_change := v_change || pg_catalog.jsonb_build_object(v_key, private._weekly_insight_change(
                    (v_current ->> v_key)::numeric, (v_previous ->> v_key)::numeric
                ));
            end loop;
            v_change := v_change || pg_catalog.jsonb_build_object('usage', coalesce((
                select pg_catalog.jsonb_object_agg(m.metric, private._weekly_insight_change(
                    (v_current -> 'usage' ->> m.metric)::numeric, (v_previous -> 'usage' ->> m.metric)::numeric
                ))
                from (
                    select pg_catalog.jsonb_object_keys(v_current -> 'usage') as metric
                    union
                    select pg_catalog.jsonb_object_keys(v_previous -> 'usage')
                ) as m
            ), '{}'));

            insert into public.weekly_insights as wi (
                workspace_id, week_start, calls, call_minutes, failed_calls, sms_inbound, sms_outbound,
                failed_sms, messages_inbound, messages_outbound, errors, usage, credits_spent, credits_granted,
                webhook_failures, webhooks_rejected, alerts_raised, change, job_run_id, generated_at
            )
            values (
                v_workspace, v_week,
                (v_current ->> 'calls')::integer,
                (v_current ->> 'call_minutes')::bigint,
                (v_current ->> 'failed_calls')::integer,
                (v_current ->> 'sms_inbound')::integer,
                (v_current ->> 'sms_outbound')::integer,
                (v_current ->> 'failed_sms')::integer,
                (v_current ->> 'messages_inbound')::integer,
                (v_current ->> 'messages_outbound')::integer,
                (v_current ->> 'errors')::integer,
                v_current -> 'usage',
                (v_current ->> 'credits_spent')::numeric,
                (v_current ->> 'credits_granted')::numeric,
                (v_current ->> 'webhook_failures')::integer,
                (v_current ->> 'webhooks_rejected')::integer,
                (v_current ->> 'alerts_raised')::integer,
                v_change,
                v_run,
                pg_catalog.now()
            )
            on conflict on constraint weekly_insights_workspace_week_key do update
            set calls = excluded.calls,
                call_minutes = excluded.call_minutes,
                failed_calls = excluded.failed_calls,
                sms_inbound = excluded.sms_inbound,
                sms_outbound = excluded.sms_outbound,
                failed_sms = excluded.failed_sms,
                messages_inbound = excluded.messages_inbound,
                messages_outbound = excluded.messages_outbound,
                errors = excluded.errors,
                usage = excluded.usage,
                credits_spent = excluded.credits_spent,
                credits_granted = excluded.credits_granted,
                webhook_failures = excluded.webhook_failures,
                webhooks_rejected = excluded.webhooks_rejected,
                alerts_raised = excluded.alerts_raised,
                change = excluded.change,
                job_run_id = excluded.job_run_id,
                generated_at = excluded.generated_at;
            v_ok := v_ok + 1;
        exception when others then
            get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
            v_errors := v_errors || private._job_step_error(v_workspace::text, v_state, v_message);
        end;
    end loop;

    v_status := private._job_run_finish(
        v_run,
        pg_catalog.jsonb_build_object(
            'week_start', v_week, 'workspaces', v_ok, 'failed', pg_catalog.jsonb_array_length(v_errors)
        ),
        v_errors,
        v_ok
    );
    return pg_catalog.jsonb_build_object(
        'job_run_id', v_run,
        'status', v_status,
        'week_start', v_week,
        'workspaces', v_ok,
        'failed', pg_catalog.jsonb_array_length(v_errors),
        'errors', v_errors
    );
end
$$;

comment on function private._generate_weekly_insights(date) is
'Implementation of public.generate_weekly_insights (definer: writes weekly_insights, logs the run in job_runs).';
revoke all on function private._generate_weekly_insights(date) from public;
grant execute on function private._generate_weekly_insights(date) to service_role;

create or replace function public.generate_weekly_insights(week_start date default null)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    return private._generate_weekly_insights(generate_weekly_insights.week_start);
end
$$;

comment on function public.generate_weekly_insights(date) is
'Write weekly_insights for every workspace for the ISO week starting week_start (a Monday, UTC; default: the last '
'complete week); idempotent, logged in job_runs, one sub-transaction per workspace. service_role; pg_cron on Mondays.';
revoke all on function public.generate_weekly_insights(date) from public;
grant execute on function public.generate_weekly_insights(date) to service_role;
