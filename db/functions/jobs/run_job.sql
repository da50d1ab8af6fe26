-- public.run_job: run a scheduled job now, by hand, as a platform admin.
--
--   select public.run_job(job_name => 'reconciliation');
--   -> {"job_name": "reconciliation", "result": {"run_reconciliation": {...}}, "audit_id": 123}
--
-- The jobs' functions are for service_role (pg_cron runs them as the database
-- owner); this is how a platform admin on call re-runs one, for example from
-- `opsdb console`. It runs exactly the command pg_cron runs
-- (private._job_command, kept equal to db/cron by a test), in the caller's
-- transaction, so the job_runs row names the admin (started_by). Jobs are
-- idempotent and runs of one job never overlap: a run while pg_cron's is going
-- waits for it. Audited (job.run_now) in the run's own transaction: a job that
-- raises leaves neither its job_runs row nor the audit row.
-- Who: platform admins. Errors: 42501 not_allowed; 22023 unknown_job; a job's
-- own error as the job raises it.

create or replace function private._job_command(job_name text)
returns text
language sql
immutable
set search_path = ''
as $$
    select case _job_command.job_name
        when 'billing_line_items' then
            $cmd$select private.generate_all_billing_line_items(date_trunc('month', now() - interval '1 day')::date)$cmd$
        when 'reconciliation' then
            $cmd$select public.run_reconciliation(
        ((now() at time zone 'utc')::date - 1), (now() at time zone 'utc')::date
    )$cmd$
        when 'retention_cleanup' then $cmd$select public.run_retention_cleanup()$cmd$
        when 'webhook_retry_sweeper' then $cmd$select public.retry_failed_webhooks(100)$cmd$
        when 'weekly_insights' then $cmd$select public.generate_weekly_insights()$cmd$
    end
$$;

comment on function private._job_command(text) is
'The SQL pg_cron runs for a job (job_runs.job_name; the cron job name with - for _); null for an unknown job.';
revoke all on function private._job_command(text) from public;

create or replace function private._run_job(job_name text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_command text := private._job_command(_run_job.job_name);
    v_result jsonb;
    v_audit_id bigint;
begin
    if not private.is_admin() then
        raise exception using
            errcode = '42501', message = 'not_allowed',
            detail = pg_catalog.format('caller %s is not a platform admin',
                coalesce((select auth.uid())::text, 'anonymous')),
            hint = 'Only platform admins run jobs by hand.';
    end if;
    if v_command is null then
        raise exception using
            errcode = '22023', message = 'unknown_job',
            detail = pg_catalog.format('job %L', _run_job.job_name),
            hint = 'Jobs: billing_line_items, reconciliation, retention_cleanup, webhook_retry_sweeper, weekly_insights.';
    end if;
    v_audit_id := private.audit(
        'job.run_now', 'job_runs', null, null, null,
        pg_catalog.jsonb_build_object('job_name', _run_job.job_name)
    );
    -- The command is one of the fixed texts above, never caller input.
    execute pg_catalog.format('select to_jsonb(r) from (%s) as r', v_command) into v_result;
    return pg_catalog.jsonb_build_object('job_name', _run_job.job_name, 'result', v_result, 'audit_id', v_audit_id);
end
$$;

comment on function private._run_job(text) is
'Implementation of public.run_job (definer: the jobs'' functions are service_role''s).';
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
'Run a scheduled job now, as pg_cron would (platform admins); audited; the run is logged in job_runs.';
revoke all on function public.run_job(text) from public;
grant execute on function public.run_job(text) to authenticated;
