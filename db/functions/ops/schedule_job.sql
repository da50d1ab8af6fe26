-- private.schedule_job: schedule (or re-schedule) a pg_cron job by name.
--
-- Used by the db/cron/ files. pg_cron keys jobs by name for the scheduling
-- role, so calling it again replaces the job instead of adding a second one.
-- Each job it schedules is recorded in private.cron_jobs (the project's jobs,
-- which public.run_job may run).
-- Where pg_cron is not installed in this database it raises a notice and
-- returns null, so the rest of the project still migrates.
create or replace function private.schedule_job(job_name text, schedule text, command text)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_job_id bigint;
begin
    if pg_catalog.to_regnamespace('cron') is null then
        raise notice 'pg_cron is not installed here: job % not scheduled', job_name;
        return null;
    end if;
    execute 'select cron.schedule($1, $2, $3)' into v_job_id using job_name, schedule, command;
    insert into private.cron_jobs as c (job_name) values (schedule_job.job_name)
    on conflict on constraint cron_jobs_pkey do update set scheduled_at = pg_catalog.now();
    return v_job_id;
end
$$;

comment on function private.schedule_job(text, text, text) is
'Schedule a pg_cron job by name, idempotently; null when pg_cron is absent.';
revoke all on function private.schedule_job(text, text, text) from public;
