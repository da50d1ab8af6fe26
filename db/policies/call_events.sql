-- call_events: a workspace's calls, for its members (and platform admins).
-- Written only by webhook ingestion.
drop policy if exists "Call events are viewable by workspace members" on public.call_events;
create policy "Call events are viewable by workspace members" on public.call_events
for select to authenticated
using ((select private.is_workspace_member(workspace_id)) or (select private.is_admin()));
