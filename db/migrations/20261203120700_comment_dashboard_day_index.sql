-- A filter on dashboard_daily_metrics.day reaches the events: the planner pushes it below the grouping into each
-- source as a condition on the events' UTC day, which the BRIN indexes of 20261203120500 answer. Say so.
comment on view public.dashboard_daily_metrics is
'Dashboard metrics per workspace and UTC day: calls (counted when they end), call minutes, SMS in and out, '
'chat messages in and out, and errors (failed calls, failed or undelivered SMS). Days without events have no row. '
'security_invoker: members see their workspaces only. A filter on day reads that day''s events only (every '
'workspace''s: the BRIN indexes on the events'' UTC day); for one workspace and a range of days call '
'dashboard_metrics(workspace_id, from_day, to_day).';
