-- private.run_retention_in_batches: the daily job; commits after every batch.
--
--   call private.run_retention_in_batches();                    -- pg_cron
--   call private.run_retention_in_batches(max_seconds => 600);  -- a catch-up by hand, bounded
--
-- A procedure that commits cannot carry SET clauses or be SECURITY DEFINER
-- (PostgreSQL refuses transaction control there), so it runs as its caller (the
-- database owner under pg_cron), names everything in full, and calls only the
-- definer functions above, which pin search_path = ''. Call it outside a
-- transaction block. Its result is the job_runs row (result, errors).
create or replace procedure private.run_retention_in_batches(
    max_seconds numeric default 3600,
    batch_seconds numeric default 0.2,
    pause_ratio numeric default 0
)
language plpgsql
as $$
declare
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_batch_started timestamptz;
    v_run bigint;
    v_policy record;
    v_cutoff timestamptz;
    v_step record;
    v_batch integer;
    v_after_at timestamptz;
    v_after_id bigint;
    v_step_rows bigint;
    v_step_failed boolean;
    v_step_stopped boolean;
    v_deleted jsonb := '{}'::jsonb;
    v_more text[] := '{}'::text[];
    v_out_of_time boolean := false;
    v_errors jsonb := '[]'::jsonb;
    v_ok integer := 0;
    v_state text;
    v_message text;
    v_seconds numeric;
begin
    -- Refused at once inside a transaction block (before taking the lock below).
    commit;
    -- One run at a time, for the whole run: batches commit, so the transaction-scoped
    -- lock the function takes would not last. Same key, so the two wait for each other.
    perform pg_catalog.pg_advisory_lock(4242, pg_catalog.hashtext('retention_cleanup'));
    v_run := private.job_run_start(
        'retention_cleanup',
        pg_catalog.jsonb_build_object(
            'max_seconds', run_retention_in_batches.max_seconds,
            'batch_seconds', run_retention_in_batches.batch_seconds,
            'pause_ratio', run_retention_in_batches.pause_ratio
        ),
        false
    );
    commit;

    for v_policy in select p.name, p.keep_days from public.retention_policies as p order by p.name loop
        v_cutoff := pg_catalog.now() - pg_catalog.make_interval(days => v_policy.keep_days);
        v_after_at := null;
        v_after_id := null;
        v_step_rows := 0;
        v_step_failed := false;
        v_step_stopped := false;
        v_batch := 2000;
        loop
            v_batch_started := pg_catalog.clock_timestamp();
            begin
                select s.deleted, s.picked, s.last_at, s.last_id
                into v_step
                from private.retention_step(v_policy.name, v_cutoff, v_batch, v_after_at, v_after_id, v_run) as s;
            exception
                when lock_not_available then
                    -- Rows in use by someone else: left for the next run, not a failure.
                    v_more := v_more || v_policy.name;
                    v_step_stopped := true;
                when others then
                    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
                    v_errors := v_errors || private.job_step_error(v_policy.name, v_state, v_message);
                    v_step_failed := true;
            end;
            exit when v_step_failed or v_step_stopped;
            commit;
            v_step_rows := v_step_rows + v_step.deleted;
            exit when v_step.picked < v_batch;
            if pg_catalog.clock_timestamp() - v_started >= run_retention_in_batches.max_seconds * interval '1 second' then
                v_more := v_more || v_policy.name;
                v_out_of_time := true;
                exit;
            end if;
            -- Step aside for DROP DATABASE, which on PostgreSQL 15 waits while a pg_cron
            -- job runs (private.drain_webhooks_continuously says why): the rest is left
            -- for the next run, like rows locked by someone else.
            if exists (select from pg_catalog.pg_stat_activity as a where a.wait_event = 'ProcSignalBarrier') then
                v_more := v_more || v_policy.name;
                exit;
            end if;
            v_after_at := v_step.last_at;
            v_after_id := v_step.last_id;
            -- Size the next batch to take about batch_seconds.
            v_seconds := greatest(extract(epoch from pg_catalog.clock_timestamp() - v_batch_started), 0.001);
            -- Leave the machine to the API for a while after each batch (pause_ratio x the batch's time).
            if run_retention_in_batches.pause_ratio > 0 then
                perform pg_catalog.pg_sleep(v_seconds * run_retention_in_batches.pause_ratio);
            end if;
            v_batch := least(
                50000, greatest(500, (v_batch * run_retention_in_batches.batch_seconds / v_seconds)::integer)
            );
        end loop;
        if not v_step_failed then
            v_ok := v_ok + 1;
        end if;
        -- A failed step keeps the batches it committed before failing: they count.
        v_deleted := pg_catalog.jsonb_set(
            v_deleted,
            array[private.retention_table(v_policy.name)],
            pg_catalog.to_jsonb(coalesce((v_deleted ->> private.retention_table(v_policy.name))::bigint, 0) + v_step_rows)
        );
    end loop;

    if v_out_of_time then
        perform private.alert_retention_backlog(v_run, v_more);
    end if;
    perform private.job_run_finish(
        v_run,
        pg_catalog.jsonb_build_object(
            'deleted', v_deleted,
            'more', pg_catalog.to_jsonb(v_more),
            'seconds', pg_catalog.round(extract(epoch from pg_catalog.clock_timestamp() - v_started)::numeric, 3)
        ),
        v_errors,
        v_ok
    );
    commit;
    perform pg_catalog.pg_advisory_unlock(4242, pg_catalog.hashtext('retention_cleanup'));
end
$$;

comment on procedure private.run_retention_in_batches(numeric, numeric, numeric) is  -- noqa: LT01
'The daily retention job (pg_cron CALLs it): deletes expired rows per retention_policies in batches of about '
'batch_seconds, committing after each, for at most max_seconds; logged in job_runs like run_retention_cleanup.';
revoke all on procedure private.run_retention_in_batches(numeric, numeric, numeric) from public;
