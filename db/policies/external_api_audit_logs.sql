-- Failed API authentications: the workspace's owners/admins see the ones naming
-- their workspace; platform admins see all (unknown keys name no workspace).
select private._drop_policies('public.external_api_audit_logs');

create policy "API auth failures are viewable by workspace admins"
on public.external_api_audit_logs for select to authenticated
using (workspace_id = any((select private.admin_workspace_ids())::uuid[]) or (select private.is_admin()));
