-- Every minute: fold the usage recorded since the last run into the daily and period
-- totals the nightly jobs read (private.fold_usage_rollups; readers add what is not
-- folded yet, so a late or skipped run costs speed, never correctness).
select private.schedule_job(
    'usage-rollups',
    '* * * * *',
    $$select private.fold_usage_rollups()$$
);
