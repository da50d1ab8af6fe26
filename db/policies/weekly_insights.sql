-- weekly_insights: a workspace's members and platform staff read its weekly
-- figures. Only generate_weekly_insights (definer code) writes them, so there is
-- no write policy and no write grant. One array of visible workspaces, evaluated
-- once per statement, keeps the read on the workspace_id index (see
-- private.visible_workspace_ids).
select private.drop_policies('public.weekly_insights');

create policy "Weekly insights are viewable by workspace members and platform staff"
on public.weekly_insights for select to authenticated
using (workspace_id = any((select private.visible_workspace_ids('member', 'support'))::uuid[]));
