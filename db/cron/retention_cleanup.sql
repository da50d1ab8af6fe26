-- Daily: delete what has expired (public.retention_policies), in short batches that
-- each commit (private.run_retention_in_batches; no transaction of the job lasts
-- long, whatever the backlog). Each run is logged in job_runs; a run by hand is the
-- same CALL, or select public.run_retention_cleanup() for one short transaction.
select private.schedule_job(
    'retention-cleanup',
    '45 2 * * *',
    $$call private.run_retention_in_batches()$$
);
