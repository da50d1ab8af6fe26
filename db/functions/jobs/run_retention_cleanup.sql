-- Retention: delete what has expired, in short batches.
--
-- What expires, and after how long, is public.retention_policies: finished raw
-- webhook deliveries (failed ones waiting for a retry never), dead letters,
-- unknown numbers not seen for a while, resolved alerts, old job runs and
-- rate-limit state long past (the limiter's counters and its per-minute refusal
-- counts). Audit logs, billing data and usage_events are not
-- touched: nothing here names them, and retention_policies cannot list them.
--
-- Two entry points share one batch (private._retention_step):
--
--   call private.run_retention_in_batches();   -- pg_cron, daily; also by hand in psql
--   select public.run_retention_cleanup();     -- the API (service_role): one short transaction
--   -> {job_run_id, status, deleted: {webhook_queue: n, unknown_phone: n, alerts: n, job_runs: n,
--       rate_limit_counters: n}, more: [...], errors: [...]}
--
-- The procedure commits after every batch, so no transaction of the job lasts
-- long: each batch is sized to take about batch_seconds (0.2 s), it never waits
-- for a row lock (lock_timeout), and the next batch starts after the last key of
-- the one before, walking its index forward instead of re-reading the entries it
-- has just deleted. A catch-up over months of history therefore neither holds
-- back vacuum nor blocks anyone, and its cost per row stays flat. The function
-- runs the same batches inside the caller's one transaction, for at most
-- max_seconds (0.5 s): enough for a day's expiry; a longer backlog is listed in
-- `more` and left for the next call (or the procedure).
--
-- Each policy is one step: a step that fails is undone (the batch in flight;
-- the procedure keeps the batches it committed) and recorded in the run's
-- errors (status partial, a job_failure alert), and the other steps still run.
-- A policy with rows left when the time budget runs out, or whose rows are
-- locked by someone else, is listed in `more`; a budget overrun raises one
-- retention_backlog alert. Running it again deletes nothing that the first run
-- kept. Runs never overlap: the procedure holds the job's advisory lock for the
-- whole run (session-level, as it commits), the function for its transaction.
--
-- Space: deleted rows leave dead tuples that (auto)vacuum makes reusable for new
-- deliveries, so webhook_queue settles at its retention window's size
-- (20261203120200_tune_webhook_queue_vacuum). A one-off catch-up leaves the
-- file large until new rows fill it; docs/scaling.md says how to return it.

-- private._run_retention_cleanup: the whole job in the caller's one transaction,
-- for at most max_seconds (every policy gets at least one batch).

create or replace function private._run_retention_cleanup(
    max_seconds numeric default 0.5,
    batch_rows integer default 10000
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_run bigint;
    v_policy record;
    v_cutoff timestamptz;
    v_step record;
    v_after_at timestamptz;
    v_after_id bigint;
    v_step_rows bigint;
    v_deleted jsonb := '{}'::jsonb;
    v_more text[] := '{}'::text[];
    v_out_of_time boolean := false;
    v_errors jsonb := '[]'::jsonb;
    v_ok integer := 0;
    v_state text;
    v_message text;
    v_status text;
begin
    v_run := private._job_run_start('retention_cleanup');
    for v_policy in select p.name, p.keep_days from public.retention_policies as p order by p.name loop
        v_cutoff := pg_catalog.now() - pg_catalog.make_interval(days => v_policy.keep_days);
        v_after_at := null;
        v_after_id := null;
        v_step_rows := 0;
        begin
            loop
                select s.deleted, s.picked, s.last_at, s.last_id
                into v_step
                from private._retention_step(
                    v_policy.name, v_cutoff, _run_retention_cleanup.batch_rows, v_after_at, v_after_id, v_run
                ) as s;
                v_step_rows := v_step_rows + v_step.deleted;
                exit when v_step.picked < _run_retention_cleanup.batch_rows;
                if pg_catalog.clock_timestamp() - v_started
                    >= _run_retention_cleanup.max_seconds * interval '1 second' then
                    v_more := v_more || v_policy.name;
                    v_out_of_time := true;
                    exit;
                end if;
                v_after_at := v_step.last_at;
                v_after_id := v_step.last_id;
            end loop;
            v_ok := v_ok + 1;
        exception
            when lock_not_available then
                -- Rows in use by someone else: left for the next run, not a failure.
                v_more := v_more || v_policy.name;
                v_ok := v_ok + 1;
                v_step_rows := 0;
            when others then
                get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
                v_errors := v_errors || private._job_step_error(v_policy.name, v_state, v_message);
                v_step_rows := 0;  -- the step's deletes were undone with it
        end;
        v_deleted := pg_catalog.jsonb_set(
            v_deleted,
            array[private._retention_table(v_policy.name)],
            pg_catalog.to_jsonb(coalesce((v_deleted ->> private._retention_table(v_policy.name))::bigint, 0) + v_step_rows)
        );
    end loop;

    if v_out_of_time then
        perform private._alert_retention_backlog(v_run, v_more);
    end if;
    v_status := private._job_run_finish(
        v_run,
        pg_catalog.jsonb_build_object('deleted', v_deleted, 'more', pg_catalog.to_jsonb(v_more)),
        v_errors,
        v_ok
    );
    return pg_catalog.jsonb_build_object(
        'job_run_id', v_run,
        'status', v_status,
        'deleted', v_deleted,
        'more', pg_catalog.to_jsonb(v_more),
        'errors', v_errors
    );
end
$$;

comment on function private._run_retention_cleanup(numeric, integer) is
'Implementation of public.run_retention_cleanup (definer: deletes expired rows per retention_policies, in batches, '
'within max_seconds of one transaction).';
revoke all on function private._run_retention_cleanup(numeric, integer) from public;
grant execute on function private._run_retention_cleanup(numeric, integer) to service_role;

create or replace function public.run_retention_cleanup()
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    return private._run_retention_cleanup();
end
$$;

comment on function public.run_retention_cleanup() is
'Delete expired webhook deliveries, unknown numbers, resolved alerts, old job runs and rate-limit state '
'(retention_policies) for at most 0.5 s of one transaction; logged in job_runs; a backlog is listed in more. '
'service_role. pg_cron runs private.run_retention_in_batches, which commits between batches.';
revoke all on function public.run_retention_cleanup() from public;
grant execute on function public.run_retention_cleanup() to service_role;
