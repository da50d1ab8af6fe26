-- A filter on dashboard_daily_metrics.day applies after grouping, so it reads every
-- event of the workspace: say so where API users look, and name the range function.
comment on view public.dashboard_daily_metrics is
'Dashboard metrics per workspace and UTC day: calls (counted when they end), call minutes, SMS in and out, '
'chat messages in and out, and errors (failed calls, failed or undelivered SMS). Days without events have no row. '
'security_invoker: members see their workspaces only. A filter on day is applied after grouping, over all of '
'a workspace''s events: for a range of days call dashboard_metrics(workspace_id, from_day, to_day).';
