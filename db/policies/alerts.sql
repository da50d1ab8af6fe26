-- Alerts: a workspace's members see its alerts and its admins acknowledge them;
-- platform staff see all, platform admins acknowledge all. Alerts are raised by
-- definer code (private.raise_alert): there is no insert or delete grant.
select private.drop_policies('public.alerts');

create policy "Alerts are viewable by workspace members and platform staff"
on public.alerts for select to authenticated
using (
    -- Platform-wide alerts name no workspace (the nil uuid in the array): staff only.
    coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid)
    = any((select private.visible_workspace_ids('member', 'support'))::uuid[])
);

create policy "Alerts can be acknowledged by workspace admins and platform admins"
on public.alerts for update to authenticated
using ((select private.is_workspace_admin(workspace_id)) or (select private.is_admin()))
with check ((select private.is_workspace_admin(workspace_id)) or (select private.is_admin()));
