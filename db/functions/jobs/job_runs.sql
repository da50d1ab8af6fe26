-- Job-run logging, shared by every scheduled job.
--
--   v_run := private.job_run_start('retention_cleanup', params);
--   ... each step in its own begin/exception block; a failed step appends
--       private.job_step_error(step, sqlstate, message) to its errors ...
--   return private.job_run_finish(v_run, result, errors, steps_ok);
--
-- A job is one transaction: its job_runs row is inserted at the start (the
-- run's id is known to the rows it writes) and given its final status at the
-- end, so other sessions only ever see finished runs. Runs of one job never
-- overlap: the start takes a transaction-scoped advisory lock on the job's
-- name, so a run by hand while pg_cron's is going waits for it, then does its
-- own (idempotent) work. A job built to run concurrently with itself (the
-- webhook sweeper: SKIP LOCKED) passes exclusive => false.

create or replace function private.job_run_start(
    job_name text,
    params jsonb default '{}',
    exclusive boolean default true
)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_id bigint;
begin
    -- Class 4242 keeps these keys apart from other advisory locks (the migration runner's).
    if job_run_start.exclusive then
        perform pg_catalog.pg_advisory_xact_lock(4242, pg_catalog.hashtext(job_run_start.job_name));
    end if;
    insert into public.job_runs (job_name, params, started_by, started_by_role)
    values (
        job_run_start.job_name,
        coalesce(job_run_start.params, '{}'),
        (select auth.uid()),
        coalesce(nullif((select auth.role()), ''), session_user::text)
    )
    returning id into v_id;
    return v_id;
end
$$;

comment on function private.job_run_start(text, jsonb, boolean) is
'Log the start of a job run (exclusive: one run of the job at a time, waiting for a running one); returns its id.';
revoke all on function private.job_run_start(text, jsonb, boolean) from public;

-- One entry of job_runs.errors.
create or replace function private.job_step_error(step text, sqlstate text, message text)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('step', step, 'sqlstate', sqlstate, 'message', message)
    )
$$;

comment on function private.job_step_error(text, text, text) is
'A one-element array {step, sqlstate, message} to append to a run''s errors.';
revoke all on function private.job_step_error(text, text, text) from public;

-- Give the run its final status: succeeded without errors, failed when no step
-- succeeded, partial otherwise. A run with errors raises one job_failure alert
-- per job (critical when the whole run failed), open until a later run of the
-- job succeeds, which resolves it, or an admin resolves it.
create or replace function private.job_run_finish(
    job_run_id bigint,
    result jsonb,
    errors jsonb default '[]',
    steps_ok integer default 1
)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_errors jsonb := coalesce(job_run_finish.errors, '[]');
    v_status text;
    v_job_name text;
begin
    v_status := case
        when pg_catalog.jsonb_array_length(v_errors) = 0 then 'succeeded'
        when job_run_finish.steps_ok > 0 then 'partial'
        else 'failed'
    end;
    update public.job_runs as r
    set status = v_status,
        result = coalesce(job_run_finish.result, '{}'),
        errors = v_errors,
        finished_at = pg_catalog.clock_timestamp()
    where r.id = job_run_finish.job_run_id and r.status = 'running'
    returning r.job_name into v_job_name;
    if not found then
        raise exception using
            errcode = 'P0002',
            message = 'job_run_not_running',
            detail = pg_catalog.format('job_run %s', job_run_finish.job_run_id);
    end if;
    if v_status = 'succeeded' then
        perform private.clear_alert(
            'job_failure:' || v_job_name,
            pg_catalog.format('auto: job %s run %s succeeded', v_job_name, job_run_finish.job_run_id)
        );
    else
        perform private.raise_alert(
            'job_failure',
            'job_failure:' || v_job_name,
            pg_catalog.format(
                'job %s run %s %s: %s step(s) failed', v_job_name, job_run_finish.job_run_id,
                case v_status when 'failed' then 'failed' else 'partly failed' end,
                pg_catalog.jsonb_array_length(v_errors)
            ),
            null,
            case v_status when 'failed' then 'critical' else 'warning' end,
            pg_catalog.jsonb_build_object('job_run_id', job_run_finish.job_run_id, 'errors', v_errors)
        );
    end if;
    return v_status;
end
$$;

comment on function private.job_run_finish(bigint, jsonb, jsonb, integer) is
'Record a job run''s result and final status (succeeded/partial/failed); failures raise one job_failure alert per '
'job, a success resolves it.';
revoke all on function private.job_run_finish(bigint, jsonb, jsonb, integer) from public;
