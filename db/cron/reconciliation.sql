-- Nightly: reconcile yesterday (UTC) once it is over and the providers' usage
-- reports of the night are loaded. Each run is logged in job_runs and
-- reconciliation_runs; a run by hand (select public.run_reconciliation(...)) is
-- the same job, e.g. again for a day whose reports arrived late.
select private.schedule_job(
    'reconciliation',
    '30 4 * * *',
    $$select public.run_reconciliation(
        ((now() at time zone 'utc')::date - 1), (now() at time zone 'utc')::date
    )$$
);
