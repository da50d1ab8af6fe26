-- Conversations hold contact addresses (PII): only the workspace's members read
-- them; platform staff use the masked view. Members may close a conversation
-- (the grant allows only status); ingestion (service_role) writes the rest.
select private.drop_policies('public.conversations');

create policy "Conversations are viewable by workspace members"
on public.conversations for select to authenticated
using (workspace_id = any((select private.member_workspace_ids())::uuid[]));

create policy "Conversations can be closed by workspace members"
on public.conversations for update to authenticated
using (workspace_id = any((select private.member_workspace_ids())::uuid[]))
with check (workspace_id = any((select private.member_workspace_ids())::uuid[]));
