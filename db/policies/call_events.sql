-- call_events: a workspace's calls, for its members (and platform admins).
-- Unlike sms_events it carries no message content, only call metadata (status,
-- duration, the two numbers), which platform admins need for support and
-- billing questions, so they keep reading it here (sms_events: masked view).
-- Written only by webhook ingestion. The caller's visible workspaces are one
-- array read once per statement (an InitPlan), answered from the workspace index.
drop policy if exists "Call events are viewable by workspace members" on public.call_events;
create policy "Call events are viewable by workspace members" on public.call_events
for select to authenticated
using (workspace_id = any((select private.visible_workspace_ids('member', 'admin'))::uuid[]));
