-- Nightly at 00:05 UTC: open the current billing period of every workspace that has
-- not opened it yet (its tier snapshot and usage_limits rows), so a period bills on
-- the terms in force at its start. On the 1st that is every workspace. Logged in
-- job_runs; a run by hand (select private.open_usage_periods()) is the same job.
select private.schedule_job(
    'usage-periods',
    '5 0 * * *',
    $$select private.open_usage_periods()$$
);
