-- Every minute: resolve the open alerts whose condition has cleared with time or
-- other work (past usage periods, dead letters replayed or expired, spikes of auth
-- or signature failures over, retention caught up); see private.resolve_cleared_alerts.
-- Runs that resolved something are logged in job_runs.
select private.schedule_job(
    'alerts-auto-resolve',
    '* * * * *',
    $$select private.resolve_cleared_alerts()$$
);
