-- private.fold_dashboard_rollups: add the calls, SMS and chat messages recorded since the last fold
-- to private.dashboard_daily_totals, then a bounded step of the history (pg_cron, every minute).
--
--   select private.fold_dashboard_rollups();
--   -> {folded_events, folded_through, pending_through, waiting_for, history_folded_events,
--       history_through: the last history day folded, history_done}
--
-- New events (fold_id set) are folded by private.fold_rollup, as the usage rollups are: only ids
-- whose transactions have all ended. The events stored before fold_id existed (fold_id null, all
-- committed before) are folded oldest UTC day first with what is left of max_events; a day is
-- folded whole, so a run folds at most max_events plus one day. Readers
-- (private._platform_daily_metrics) add what is not folded yet, so they are exact at any moment.
create or replace function private.fold_dashboard_rollups(max_events integer default 500000)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
-- A job's few large statements: JIT compiling them costs more than it saves (seconds on big tables).
set jit = off
as $$
declare
    v_new jsonb;
begin
    v_new := private.fold_rollup(
        'dashboard_events', 'private.dashboard_fold_seq', 'private.fold_dashboard_events(bigint, bigint)',
        fold_dashboard_rollups.max_events
    );
    return v_new || private.fold_dashboard_history(
        fold_dashboard_rollups.max_events - (v_new ->> 'folded_events')::bigint
    );
end
$$;

comment on function private.fold_dashboard_rollups(integer) is
'Fold the calls, SMS and chat messages whose transactions have all ended, then the history stored before '
'fold_id, into the dashboard totals (at most max_events per run, plus one history day); pg_cron runs it every '
'minute.';
revoke all on function private.fold_dashboard_rollups(integer) from public;


-- private.fold_dashboard_history: fold the events stored before fold_id existed (fold_id null),
-- one UTC day after another from the oldest, until max_events are folded or none is left. Every
-- such row was committed before the column existed, so no running transaction can add one.
create or replace function private.fold_dashboard_history(max_events bigint)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_state private.dashboard_history_state%rowtype;
    v_day date;
    v_after date;
    v_folded bigint := 0;
begin
    select h.* into strict v_state from private.dashboard_history_state as h where h.name = 'dashboard_events'
    for update;
    while not v_state.done and v_folded < fold_dashboard_history.max_events loop
        -- The next day holding history: one probe of each table's index of unfolded days.
        v_after := coalesce(v_state.folded_through_day, '-infinity'::date);
        select least(
            (select min((c.occurred_at at time zone 'UTC')::date) from public.call_events as c
                where c.fold_id is null and (c.occurred_at at time zone 'UTC')::date > v_after),
            (select min((s.occurred_at at time zone 'UTC')::date) from public.sms_events as s
                where s.fold_id is null and (s.occurred_at at time zone 'UTC')::date > v_after),
            (select min((m.created_at at time zone 'UTC')::date) from public.messages as m
                where m.fold_id is null and (m.created_at at time zone 'UTC')::date > v_after)
        )
        into v_day;
        if v_day is null then
            v_state.done := true;
        else
            v_folded := v_folded + private.add_dashboard_events(
                'e.fold_id is null and (e.event_at at time zone ''UTC'')::date = $3', null, null, v_day
            );
            v_state.folded_through_day := v_day;
        end if;
    end loop;

    update private.dashboard_history_state as h
    set folded_through_day = v_state.folded_through_day, done = v_state.done
    where h.name = 'dashboard_events';

    return pg_catalog.jsonb_build_object(
        'history_folded_events', v_folded,
        'history_through', v_state.folded_through_day,
        'history_done', v_state.done
    );
end
$$;

comment on function private.fold_dashboard_history(bigint) is
'Fold the dashboard events stored before fold_id existed, oldest UTC day first, whole days until max_events.';
revoke all on function private.fold_dashboard_history(bigint) from public;


-- private.fold_dashboard_events: the fold step of private.fold_rollup for the dashboard rollup:
-- add the events with after_id < fold_id <= upto_id; returns how many it folded.
create or replace function private.fold_dashboard_events(after_id bigint, upto_id bigint)
returns bigint
language sql
volatile
set search_path = ''
as $$
    select private.add_dashboard_events(
        'e.fold_id > $1 and e.fold_id <= $2', fold_dashboard_events.after_id, fold_dashboard_events.upto_id, null
    );
$$;

comment on function private.fold_dashboard_events(bigint, bigint) is
'Add the dashboard events with fold_id in (after_id, upto_id] to the dashboard totals; returns how many.';
revoke all on function private.fold_dashboard_events(bigint, bigint) from public;


-- private.add_dashboard_events: add the rows of private.dashboard_events that events_where selects
-- (an SQL condition on e, with $1 after_id, $2 upto_id, $3 day) to private.dashboard_daily_totals,
-- per UTC day and workspace, and to private.dashboard_platform_totals, per UTC day, in one
-- set-based statement; returns how many events it added. The
-- condition is one of the two fixed texts of its callers, never user input.
create or replace function private.add_dashboard_events(events_where text, after_id bigint, upto_id bigint, day date)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_added bigint;
    -- Both totals add the batch's counts column by column.
    v_add text := (
        select pg_catalog.string_agg(pg_catalog.format('%1$I = t.%1$I + excluded.%1$I', c.name), ', ')
        from pg_catalog.unnest(array[
            'calls', 'call_minutes', 'failed_calls', 'sms_inbound', 'sms_outbound', 'failed_sms',
            'messages_inbound', 'messages_outbound', 'event_count'
        ]) as c (name)
    );
begin
    execute pg_catalog.format(
        $sql$
        with batch as (
            select
                (e.event_at at time zone 'UTC')::date as day,
                e.workspace_id,
                sum(e.calls)::bigint as calls,
                sum(e.call_minutes)::bigint as call_minutes,
                sum(e.failed_calls)::bigint as failed_calls,
                sum(e.sms_inbound)::bigint as sms_inbound,
                sum(e.sms_outbound)::bigint as sms_outbound,
                sum(e.failed_sms)::bigint as failed_sms,
                sum(e.messages_inbound)::bigint as messages_inbound,
                sum(e.messages_outbound)::bigint as messages_outbound,
                count(*) as event_count
            from private.dashboard_events as e
            where %1$s
            group by 1, 2
        ),

        added as (
            insert into private.dashboard_daily_totals as t
            select * from batch
            on conflict (day, workspace_id) do update set %2$s
        ),

        added_platform as (
            insert into private.dashboard_platform_totals as t
            select
                b.day, sum(b.calls), sum(b.call_minutes), sum(b.failed_calls), sum(b.sms_inbound),
                sum(b.sms_outbound), sum(b.failed_sms), sum(b.messages_inbound), sum(b.messages_outbound),
                sum(b.event_count)
            from batch as b
            group by b.day
            on conflict (day) do update set %2$s
        )

        select coalesce(sum(b.event_count), 0)::bigint from batch as b
        $sql$,
        add_dashboard_events.events_where, v_add
    )
    into v_added
    using add_dashboard_events.after_id, add_dashboard_events.upto_id, add_dashboard_events.day;
    return v_added;
end
$$;

comment on function private.add_dashboard_events(text, bigint, bigint, date) is
'Add the dashboard events a fixed condition selects to the dashboard totals, per UTC day and workspace and per day.';
revoke all on function private.add_dashboard_events(text, bigint, bigint, date) from public;
