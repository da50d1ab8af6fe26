-- pg_cron logs every run in cron.job_run_details and never prunes it: keep 30 days.
select private.schedule_job(
    'cron-history-cleanup',
    '17 3 * * *',
    $$delete from cron.job_run_details where end_time < now() - interval '30 days'$$
);
