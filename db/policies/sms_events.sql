-- sms_events: a workspace's SMS, for its members only. body and the numbers are
-- PII: platform staff read them masked through public.sms_events_masked, as they
-- read messages through messages_masked. Written only by webhook ingestion. The
-- caller's workspaces are read once per statement (an InitPlan), not once per row.
drop policy if exists "SMS events are viewable by workspace members" on public.sms_events;
create policy "SMS events are viewable by workspace members" on public.sms_events
for select to authenticated
using (workspace_id = any((select private.member_workspace_ids())::uuid[]));
