-- sms_events: a workspace's SMS, for its members (and platform admins).
-- Written only by webhook ingestion.
drop policy if exists "SMS events are viewable by workspace members" on public.sms_events;
create policy "SMS events are viewable by workspace members" on public.sms_events
for select to authenticated
using ((select private.is_workspace_member(workspace_id)) or (select private.is_admin()));
