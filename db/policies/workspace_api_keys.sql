-- API keys: the workspace's owners/admins and platform admins see them (hashes
-- are useless without the key) and may rename them. Minting and revoking go
-- through create_api_key and revoke_api_key: there is no insert or delete grant.
select private.drop_policies('public.workspace_api_keys');

create policy "API keys are viewable by workspace admins"
on public.workspace_api_keys for select to authenticated
using (workspace_id = any((select private.visible_workspace_ids('admin', 'admin'))::uuid[]));

create policy "API keys can be renamed by workspace admins"
on public.workspace_api_keys for update to authenticated
using ((select private.is_workspace_admin(workspace_id)) or (select private.is_admin()))
with check ((select private.is_workspace_admin(workspace_id)) or (select private.is_admin()));
