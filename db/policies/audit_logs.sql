-- audit_logs: a workspace's owners/admins read its rows, platform admins read all.
-- Rows are written by triggers (definer code) only; nobody updates or deletes.
select private.drop_policies('public.audit_logs');

create policy "Audit logs are viewable by workspace admins and platform admins"
on public.audit_logs for select to authenticated
using (
    -- Platform-wide changes name no workspace (the nil uuid in the array): platform admins only.
    coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid)
    = any((select private.visible_workspace_ids('admin', 'admin'))::uuid[])
);
