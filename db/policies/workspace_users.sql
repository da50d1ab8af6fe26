-- Memberships: members see who else is in their workspace. Workspace admins add,
-- re-role and remove admins and members, never an owner (ownership changes only
-- through a platform admin). Any member may leave, except the owner.
select private.drop_policies('public.workspace_users');

create policy "Memberships are viewable by workspace members and platform staff"
on public.workspace_users for select to authenticated
using (workspace_id = any((select private.visible_workspace_ids('member', 'support'))::uuid[]));

create policy "Memberships can be added by workspace admins"
on public.workspace_users for insert to authenticated
with check (
    (role in ('admin', 'member') and (select private.is_workspace_admin(workspace_id)))
    or (select private.is_admin())
);

create policy "Memberships can be re-roled by workspace admins"
on public.workspace_users for update to authenticated
using (
    (role in ('admin', 'member') and (select private.is_workspace_admin(workspace_id)))
    or (select private.is_admin())
)
with check (
    (role in ('admin', 'member') and (select private.is_workspace_admin(workspace_id)))
    or (select private.is_admin())
);

create policy "Memberships can be removed by workspace admins or the member"
on public.workspace_users for delete to authenticated
using (
    (role in ('admin', 'member') and (select private.is_workspace_admin(workspace_id)))
    or (role in ('admin', 'member') and user_id = (select auth.uid()))
    or (select private.is_admin())
);
