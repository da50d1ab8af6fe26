-- audit_logs: a workspace's owners/admins read its rows, platform admins read all.
-- Rows are written by triggers (definer code) only; nobody updates or deletes.
select private._drop_policies('public.audit_logs');

create policy "Audit logs are viewable by workspace admins and platform admins"
on public.audit_logs for select to authenticated
using (workspace_id = any((select private.admin_workspace_ids())::uuid[]) or (select private.is_admin()));
