-- public.usage_events: the workspace's members (and platform staff) read their own rows.
-- No write policies: rows are written only by the usage and credit functions.
select private._drop_policies('public.usage_events');

create policy "Usage events are viewable by members and platform staff" on public.usage_events
for select to authenticated
using ((select private.is_workspace_member(workspace_id)) or (select private.is_support()));
