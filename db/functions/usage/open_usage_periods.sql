-- private.open_usage_periods: the nightly job that starts each workspace's billing
-- period: its tier snapshot (the terms in force at the period's start) and its
-- usage_limits rows, for every workspace that has none for the current period.
--
--   select private.open_usage_periods();
--   -> {job_run_id, status, period_start, opened, errors}
--
-- pg_cron runs it every night shortly after midnight UTC (db/cron/usage_periods.sql):
-- on the 1st it opens the new period for everyone; on other days it opens the
-- period of workspaces created since. A period whose first usage comes weeks
-- later still bills on the terms of its start. Plan changes snapshot the new
-- terms themselves (private.on_plan_change), and record_usage opens a period
-- itself if its first usage comes before this job has run.
-- Each workspace is one step (sub-transaction) under its row lock, like a first
-- usage: a failing workspace is recorded in job_runs.errors (partial, with a
-- job_failure alert) and the others still open. Idempotent: a re-run opens
-- only what is still missing.
-- Who may call: the database owner (pg_cron) and service_role.
create or replace function private.open_usage_periods()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_period date := private.usage_period();
    v_run bigint;
    v_workspace_id uuid;
    v_opened integer := 0;
    v_errors jsonb := '[]'::jsonb;
    v_state text;
    v_message text;
    v_result jsonb;
    v_status text;
begin
    v_run := private.job_run_start('usage_periods', pg_catalog.jsonb_build_object('period_start', v_period));
    for v_workspace_id in
        select w.id
        from public.workspaces as w
        where not exists (
            select from public.tier_snapshots as ts where ts.workspace_id = w.id and ts.period_start = v_period
        )
        order by w.id
    loop
        begin
            -- The lock a first usage of the period takes too: one of them opens it.
            perform 1 from public.workspaces as w where w.id = v_workspace_id for no key update;
            perform private.ensure_usage_period(v_workspace_id, v_period);
            v_opened := v_opened + 1;
        exception when others then
            get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
            v_errors := v_errors || private.job_step_error(v_workspace_id::text, v_state, v_message);
        end;
    end loop;

    v_result := pg_catalog.jsonb_build_object(
        'job_run_id', v_run, 'period_start', v_period, 'opened', v_opened, 'errors', v_errors
    );
    v_status := private.job_run_finish(v_run, v_result, v_errors, v_opened);
    return v_result || pg_catalog.jsonb_build_object('status', v_status);
end
$$;

comment on function private.open_usage_periods() is
'Nightly: take the period-start tier snapshot and create the usage_limits rows of every workspace lacking them.';
revoke all on function private.open_usage_periods() from public;
grant execute on function private.open_usage_periods() to service_role;
