-- Every minute: fold the calls, SMS and chat messages recorded since the last run, then a bounded
-- step of the history, into the dashboard totals platform_daily_metrics reads
-- (private.fold_dashboard_rollups; readers add what is not folded yet, so a late or skipped run
-- costs speed, never correctness).
select private.schedule_job(
    'dashboard-rollups',
    '* * * * *',
    $$select private.fold_dashboard_rollups()$$
);
