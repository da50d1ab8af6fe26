-- public.run_retention_cleanup: delete what has expired (pg_cron runs it daily;
-- anyone with service_role may run it again by hand).
--
--   select public.run_retention_cleanup();
--   -> {job_run_id, status, deleted: {webhook_queue: n, unknown_phone: n, alerts: n, job_runs: n,
--       rate_limit_counters: n}, more: [...], errors: [...]}
--
-- What expires, and after how long, is public.retention_policies: finished raw
-- webhook deliveries (failed ones waiting for a retry never), dead letters,
-- unknown numbers not seen for a while, acknowledged alerts, old job runs and
-- rate-limit state long past. Audit logs, billing data and usage_events are not
-- touched: nothing here names them, and retention_policies cannot list them.
--
-- Each policy is one step in its own sub-transaction: a step that fails is
-- undone and recorded in the run's errors (status partial, a job_failure
-- alert), and the other steps still commit. A step deletes in batches of
-- v_batch rows, and keeps going while the run is within its time budget
-- (max_seconds; every policy gets at least one batch): the run is one
-- transaction, and the budget bounds how long it holds its row locks and the
-- vacuum horizon. A policy with rows left when the budget runs out is listed in
-- `more`, and one retention_backlog alert says the daily run no longer keeps up;
-- the next run (or runs by hand) continue. Running it again deletes nothing
-- that the first run kept.

create or replace function private._run_retention_cleanup(max_seconds numeric default 60)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_batch constant integer := 10000;
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_step_rows bigint;
    v_run bigint;
    v_policy record;
    v_cutoff timestamptz;
    v_rows bigint;
    v_deleted jsonb := '{}'::jsonb;
    v_more text[] := '{}'::text[];
    v_errors jsonb := '[]'::jsonb;
    v_ok integer := 0;
    v_state text;
    v_message text;
    v_status text;
    v_table text;
begin
    v_run := private._job_run_start('retention_cleanup');
    for v_policy in select p.name, p.keep_days from public.retention_policies as p order by p.name loop
        v_cutoff := pg_catalog.now() - pg_catalog.make_interval(days => v_policy.keep_days);
        v_table := case v_policy.name
            when 'webhook_deliveries' then 'webhook_queue'
            when 'webhook_dead_letters' then 'webhook_queue'
            when 'acknowledged_alerts' then 'alerts'
            else v_policy.name
        end;
        v_step_rows := 0;
        begin
            loop
                case v_policy.name
                    when 'webhook_deliveries' then
                        delete from public.webhook_queue as q
                        where q.id = any(array(
                            select d.id from public.webhook_queue as d
                            where d.received_at < v_cutoff
                                and d.status in ('processed', 'duplicate', 'rejected', 'unknown_phone')
                            limit v_batch
                        ));
                    when 'webhook_dead_letters' then
                        delete from public.webhook_queue as q
                        where q.id = any(array(
                            select d.id from public.webhook_queue as d
                            where d.received_at < v_cutoff and d.status = 'dead_letter'
                            limit v_batch
                        ));
                    when 'unknown_phone' then
                        delete from public.unknown_phone as u
                        where u.id = any(array(
                            select d.id from public.unknown_phone as d where d.last_seen_at < v_cutoff limit v_batch
                        ));
                    when 'acknowledged_alerts' then
                        delete from public.alerts as a
                        where a.id = any(array(
                            select d.id from public.alerts as d where d.acknowledged_at < v_cutoff limit v_batch
                        ));
                    when 'job_runs' then
                        delete from public.job_runs as j
                        where j.id = any(array(
                            select d.id from public.job_runs as d
                            where d.started_at < v_cutoff and d.id <> v_run
                            limit v_batch
                        ));
                    when 'rate_limit_counters' then
                        delete from private.rate_limit_counters as c
                        where c.ctid = any(array(
                            select d.ctid from private.rate_limit_counters as d where d.tat < v_cutoff limit v_batch
                        ));
                end case;
                get diagnostics v_rows = row_count;
                v_step_rows := v_step_rows + v_rows;
                exit when v_rows < v_batch
                    or pg_catalog.clock_timestamp() - v_started
                    >= _run_retention_cleanup.max_seconds * interval '1 second';
            end loop;
            if v_rows = v_batch then
                v_more := v_more || v_policy.name;
            end if;
            v_ok := v_ok + 1;
        exception when others then
            get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
            v_errors := v_errors || private._job_step_error(v_policy.name, v_state, v_message);
            v_step_rows := 0;  -- the step's deletes were undone with it
        end;
        v_deleted := pg_catalog.jsonb_set(
            v_deleted, array[v_table], pg_catalog.to_jsonb(coalesce((v_deleted ->> v_table)::bigint, 0) + v_step_rows)
        );
    end loop;

    if pg_catalog.cardinality(v_more) > 0 then
        perform private.raise_alert(
            'retention_backlog',
            'retention_backlog',
            pg_catalog.format(
                'retention cleanup run %s ran out of time with rows left to delete: %s',
                v_run, pg_catalog.array_to_string(v_more, ', ')
            ),
            null,
            'warning',
            pg_catalog.jsonb_build_object('job_run_id', v_run, 'more', pg_catalog.to_jsonb(v_more))
        );
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

comment on function private._run_retention_cleanup(numeric) is
'Implementation of public.run_retention_cleanup (definer: deletes expired rows per retention_policies).';
revoke all on function private._run_retention_cleanup(numeric) from public;
grant execute on function private._run_retention_cleanup(numeric) to service_role;

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
'Delete expired webhook deliveries, unknown numbers, acknowledged alerts, old job runs and rate-limit state '
'(retention_policies); logged in job_runs. service_role; pg_cron runs it daily.';
revoke all on function public.run_retention_cleanup() from public;
grant execute on function public.run_retention_cleanup() to service_role;
