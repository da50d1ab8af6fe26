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
-- Each workspace is one step in its own sub-transaction: a workspace that fails is
-- undone and recorded in the run's errors (step = its id; status partial, one
-- job_failure alert), and the others still commit. Re-running a week upserts the
-- same rows with the same figures (given the same source rows); only job_run_id
-- and generated_at change. The figures of the week before are computed from the
-- source tables by the same code, not read from its stored row, so the change
-- does not depend on whether or when that week was generated.

-- The figures of one workspace for one week, as a jsonb object (the columns of
-- weekly_insights, usage as {metric: quantity}). Invoker: only the definer job
-- below calls it, and reads every workspace's rows through it.
create or replace function private._weekly_insight_figures(workspace_id uuid, week_start date)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_from timestamptz := _weekly_insight_figures.week_start::timestamp at time zone 'UTC';
    v_to timestamptz := (_weekly_insight_figures.week_start + 7)::timestamp at time zone 'UTC';
    v_events jsonb;
    v_usage jsonb;
    v_credits jsonb;
    v_numbers text[];
    v_channels text[];
    v_webhooks jsonb;
    v_alerts integer;
begin
    -- Calls, SMS, chat messages: the dashboard's counting rules (private.dashboard_events).
    select pg_catalog.jsonb_build_object(
        'calls', coalesce(sum(e.calls), 0),
        'call_minutes', coalesce(sum(e.call_minutes), 0),
        'failed_calls', coalesce(sum(e.failed_calls), 0),
        'sms_inbound', coalesce(sum(e.sms_inbound), 0),
        'sms_outbound', coalesce(sum(e.sms_outbound), 0),
        'failed_sms', coalesce(sum(e.failed_sms), 0),
        'messages_inbound', coalesce(sum(e.messages_inbound), 0),
        'messages_outbound', coalesce(sum(e.messages_outbound), 0),
        'errors', coalesce(sum(e.failed_calls + e.failed_sms), 0)
    )
    into v_events
    from private.dashboard_events as e
    where e.workspace_id = _weekly_insight_figures.workspace_id
        and e.event_at >= v_from and e.event_at < v_to;

    select coalesce(pg_catalog.jsonb_object_agg(u.metric, u.quantity), '{}')
    into v_usage
    from (
        select ue.metric, sum(ue.quantity) as quantity
        from public.usage_events as ue
        where ue.workspace_id = _weekly_insight_figures.workspace_id
            and ue.occurred_at >= v_from and ue.occurred_at < v_to
        group by ue.metric
    ) as u;

    select pg_catalog.jsonb_build_object(
        'credits_spent', coalesce(-sum(l.amount) filter (where l.kind = 'deduct'), 0),
        'credits_granted', coalesce(sum(l.amount) filter (where l.kind = 'grant'), 0)
    )
    into v_credits
    from public.wallet_ledger as l
    where l.workspace_id = _weekly_insight_figures.workspace_id
        and l.created_at >= v_from and l.created_at < v_to;

    -- Webhook deliveries carry no workspace: they are attributed by the numbers and
    -- channel ids they name. Unknown numbers (unknown_phone) belong to no workspace.
    v_numbers := array(
        select a.phone_number from public.agents as a
        where a.workspace_id = _weekly_insight_figures.workspace_id and a.phone_number is not null
    );
    v_channels := array(
        select c.external_id from public.agent_channels as c
        where c.workspace_id = _weekly_insight_figures.workspace_id and c.external_id is not null
    );
    select pg_catalog.jsonb_build_object(
        'webhook_failures', count(*) filter (where q.status in ('failed', 'dead_letter')),
        'webhooks_rejected', count(*) filter (where q.status = 'rejected')
    )
    into v_webhooks
    from public.webhook_queue as q
    where q.status in ('failed', 'dead_letter', 'rejected')
        and q.received_at >= v_from and q.received_at < v_to
        and (
            (q.provider = 'twilio' and (q.payload ->> 'To' = any(v_numbers) or q.payload ->> 'From' = any(v_numbers)))
            or (q.provider = 'meta' and exists (
                -- Messenger names the page in entry[].id, WhatsApp the number in metadata.phone_number_id.
                select 1
                from pg_catalog.jsonb_path_query(q.payload, 'lax $.entry[*].id') as i (id)
                where i.id #>> '{}' = any(v_channels)
                union all
                select 1
                from pg_catalog.jsonb_path_query(
                    q.payload, 'lax $.entry[*].changes[*].value.metadata.phone_number_id'
                ) as p (id)
                where p.id #>> '{}' = any(v_channels)
            ))
        );

    select count(*)::integer
    into v_alerts
    from public.alerts as al
    where al.workspace_id = _weekly_insight_figures.workspace_id
        and al.created_at >= v_from and al.created_at < v_to;

    return v_events || v_credits || v_webhooks
        || pg_catalog.jsonb_build_object('alerts_raised', v_alerts, 'usage', v_usage);
end
$$;

comment on function private._weekly_insight_figures(uuid, date) is
'The weekly_insights figures of one workspace for the ISO week starting week_start (UTC), from the source tables.';
revoke all on function private._weekly_insight_figures(uuid, date) from public;

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
    for v_workspace in
        select w.id from public.workspaces as w
        where w.created_at < (v_week + 7)::timestamp at time zone 'UTC'
        order by w.id
    loop
        begin
            v_current := private._weekly_insight_figures(v_workspace, v_week);
            v_previous := private._weekly_insight_figures(v_workspace, v_week - 7);
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
