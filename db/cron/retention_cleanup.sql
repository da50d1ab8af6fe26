-- Daily: delete what has expired (public.retention_policies). Each run is logged
-- in job_runs; a run by hand (select public.run_retention_cleanup()) is the same job.
select private.schedule_job(
    'retention-cleanup',
    '45 2 * * *',
    $$select public.run_retention_cleanup()$$
);
