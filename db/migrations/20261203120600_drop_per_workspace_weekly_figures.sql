-- opsdb:destructive drops the per-workspace weekly figures function; nothing calls it
-- private._weekly_insight_figures(uuid, date) read one workspace's week from every source table, once per
-- workspace and week, so the weekly job read each table (the platform's failed deliveries included) once per
-- workspace. private._weekly_insight_figures_all (functions/jobs/generate_weekly_insights.sql) reads each
-- source once for every workspace; nothing calls the old one.
drop function if exists private._weekly_insight_figures(uuid, date);
