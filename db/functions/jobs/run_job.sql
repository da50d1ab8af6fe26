-- public.run_job: run a scheduled job now, by hand, as a platform admin.
--
--   select public.run_job(job_name => 'reconciliation');
--   -> {"job_name": "reconciliation", "command": "select public.run_reconciliation(...)",
--       "result": {"run_reconciliation": {...}}, "audit_id": 123}
--
-- The jobs' functions are for service_role (pg_cron runs them as the database
-- owner); this is how a platform admin on call re-runs one, for example from
-- `opsdb console`. job_name is a job of db/cron/ (its pg_cron name, with _ or -;
-- private.schedule_job records each in private.cron_jobs).
-- It runs the command pg_cron runs for that job (read from cron.job, so it is
-- always the scheduled one), in the caller's transaction, so the job_runs row names
-- the admin (started_by). Jobs are idempotent and runs of one job never overlap: a
-- run while pg_cron's is going waits for it. Audited (job.run_now) in the run's own
-- transaction: a job that raises leaves neither its job_runs row nor the audit row.
--
-- A procedure job (pg_cron's command is a CALL: the procedure commits between
-- batches, which no function call can do) runs as its one-transaction form instead,
-- named in private._job_one_transaction (the webhook drain: one batch of
-- public.drain_webhooks; the batched retention: public.run_retention_cleanup). A
-- procedure job with no such form is refused (job_needs_pg_cron); pg_cron runs it
-- on its schedule, or an operator CALLs it in psql.
-- Who: platform admins. Errors: 42501 not_allowed; 22023 unknown_job (not a job of
-- db/cron/); PT404 job_not_scheduled (pg_cron does not schedule it in this
-- database); 22023 job_needs_pg_cron; a job's own error as the job raises it.

create or replace function private._job_one_transaction(command text)
returns text
language sql
immutable
set search_path = ''
as $$
    -- A procedure job's command (exactly as scheduled) and the one-transaction form run_job runs.
    select case pg_catalog.btrim(_job_one_transaction.command)
        when 'call private.drain_webhooks_continuously()' then 'select public.drain_webhooks()'
        when 'call private.run_retention_in_batches()' then 'select public.run_retention_cleanup()'
    end
$$;

comment on function private._job_one_transaction(text) is
'For a procedure job''s CALL command, the function run_job runs in one transaction instead; null when none.';
revoke all on function private._job_one_transaction(text) from public;

create or replace function private._run_job(job_name text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_name text := pg_catalog.replace(_run_job.job_name, '_', '-');
    v_command text;
    v_run text;
    v_result jsonb;
    v_rows bigint;
    v_audit_id bigint;
begin
    if not private.is_admin() then
        raise exception using
            errcode = '42501', message = 'not_allowed',
            detail = pg_catalog.format('caller %s is not a platform admin',
                coalesce((select auth.uid())::text, 'anonymous')),
            hint = 'Only platform admins run jobs by hand.';
    end if;
    if not exists (select from private.cron_jobs as c where c.job_name = v_name) then
        raise exception using
            errcode = '22023', message = 'unknown_job',
            detail = pg_catalog.format('job %L', _run_job.job_name),
            hint = pg_catalog.format('Jobs: %s.', (
                select pg_catalog.string_agg(c.job_name, ', ' order by c.job_name) from private.cron_jobs as c
            ));
    end if;
    if pg_catalog.to_regclass('cron.job') is not null then
        execute 'select command from cron.job where jobname = $1' into v_command using v_name;
    end if;
    if v_command is null then
        raise exception using
            errcode = 'PT404', message = 'job_not_scheduled',
            detail = pg_catalog.format('job %L is not in cron.job', v_name),
            hint = 'opsdb migrate schedules every job of db/cron/ where pg_cron is installed.';
    end if;
    v_run := v_command;
    if pg_catalog.lower(pg_catalog.ltrim(v_command)) like 'call %' then
        v_run := private._job_one_transaction(v_command);
        if v_run is null then
            raise exception using
                errcode = '22023', message = 'job_needs_pg_cron',
                detail = pg_catalog.format('job %L runs a procedure (%s) that commits between batches', v_name,
                    v_command),
                hint = 'pg_cron runs it on its schedule; an operator may CALL it in psql.';
        end if;
    end if;
    v_audit_id := private.audit(
        'job.run_now', 'job_runs', null, null, null,
        pg_catalog.jsonb_build_object('job_name', _run_job.job_name, 'command', v_run)
    );
    -- The command is the database owner's own scheduled job text (or its fixed
    -- one-transaction form above), never caller input.
    if pg_catalog.lower(pg_catalog.ltrim(v_run)) like 'select %' then
        execute pg_catalog.format('select to_jsonb(r) from (%s) as r', v_run) into v_result;
    else
        execute v_run;
        get diagnostics v_rows = row_count;
        v_result := pg_catalog.jsonb_build_object('rows', v_rows);
    end if;
    return pg_catalog.jsonb_build_object(
        'job_name', _run_job.job_name, 'command', v_run, 'result', v_result, 'audit_id', v_audit_id
    );
end
$$;

comment on function private._run_job(text) is
'Implementation of public.run_job (definer: the jobs'' functions and cron.job are the database owner''s).';
revoke all on function private._run_job(text) from public;
grant execute on function private._run_job(text) to authenticated;

create or replace function public.run_job(job_name text)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
    select private._run_job(run_job.job_name)
$$;

comment on function public.run_job(text) is
'Run a scheduled job of db/cron/ now, as pg_cron would (platform admins); audited; the run is logged in job_runs.';
revoke all on function public.run_job(text) from public;
grant execute on function public.run_job(text) to authenticated;
