-- Failed API authentications: the workspace's owners/admins see the ones naming
-- their workspace; platform admins see all (unknown keys name no workspace).
select private.drop_policies('public.external_api_audit_logs');

create policy "API auth failures are viewable by workspace admins"
on public.external_api_audit_logs for select to authenticated
using (
    -- Unknown keys name no workspace (the nil uuid in the array): platform admins only.
    coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid)
    = any((select private.visible_workspace_ids('admin', 'admin'))::uuid[])
);
