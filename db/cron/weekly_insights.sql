-- Weekly: on Mondays at 04:30 UTC (pg_cron's clock is UTC), write weekly_insights for the
-- ISO week that ended at midnight (the function's default week). Each run is logged in
-- job_runs; a run by hand (select public.generate_weekly_insights('<monday>')) is the same job.
select private.schedule_job(
    'weekly-insights',
    '30 4 * * 1',
    $$select public.generate_weekly_insights()$$
);
