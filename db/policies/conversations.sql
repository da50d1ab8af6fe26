-- Conversations hold contact addresses (PII): only the workspace's members read
-- them; platform staff use the masked view. Members may close a conversation
-- (the grant allows only status); ingestion (service_role) writes the rest.
select private._drop_policies('public.conversations');

create policy "Conversations are viewable by workspace members"
on public.conversations for select to authenticated
using ((select private.is_workspace_member(workspace_id)));

create policy "Conversations can be closed by workspace members"
on public.conversations for update to authenticated
using ((select private.is_workspace_member(workspace_id)))
with check ((select private.is_workspace_member(workspace_id)));
