-- The project's own pg_cron jobs by name: private.schedule_job (every db/cron/
-- file) records each job it schedules here, so public.run_job runs the project's
-- jobs and never another job the database owner keeps in cron.job.
create table private.cron_jobs (
    job_name text primary key,
    scheduled_at timestamptz not null default now()
);

comment on table private.cron_jobs is
'The pg_cron jobs the project schedules (private.schedule_job): the jobs public.run_job may run.';
comment on column private.cron_jobs.job_name is 'pg_cron''s job name (cron.job.jobname).';
comment on column private.cron_jobs.scheduled_at is 'When private.schedule_job last scheduled it.';

revoke all on table private.cron_jobs from public;

-- The jobs db/cron/ had already scheduled before this table existed.
do $$
begin
    if pg_catalog.to_regclass('cron.job') is not null then
        insert into private.cron_jobs (job_name)
        select j.jobname
        from cron.job as j
        where j.jobname in (
            'billing-line-items', 'cron-history-cleanup', 'reconciliation', 'retention-cleanup',
            'webhook-drain', 'webhook-retry-sweeper', 'weekly-insights'
        )
        on conflict (job_name) do nothing;
    end if;
end
$$;
