-- call_events: a workspace's calls, for its members (and platform admins).
-- Written only by webhook ingestion. The caller's workspaces are read once per
-- statement (an InitPlan), not once per row.
drop policy if exists "Call events are viewable by workspace members" on public.call_events;
create policy "Call events are viewable by workspace members" on public.call_events
for select to authenticated
using (workspace_id = any((select private.member_workspace_ids())::uuid[]) or (select private.is_admin()));
