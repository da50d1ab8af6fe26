-- Message bodies are PII: only the workspace's members read them, in full.
-- Platform staff read them masked through public.messages_masked. Messages are
-- an immutable record written by ingestion (service_role): no user writes.
select private.drop_policies('public.messages');

create policy "Messages are viewable by workspace members"
on public.messages for select to authenticated
using (workspace_id = any((select private.member_workspace_ids())::uuid[]));
