-- Workspaces: members and platform staff read; anyone signed in creates one
-- they own; owners/admins rename (the grant allows only name). Status and plan
-- change through definer functions; there is no delete grant.
select private.drop_policies('public.workspaces');

-- owner_id too: INSERT ... RETURNING (supabase-js insert().select()) checks the
-- new row before the trigger has added the owner's membership.
create policy "Workspaces are viewable by their members and platform staff"
on public.workspaces for select to authenticated
using (
    owner_id = (select auth.uid())
    or id = any((select private.visible_workspace_ids('member', 'support'))::uuid[])
);

create policy "Workspaces can be created by the user who will own them"
on public.workspaces for insert to authenticated
with check (owner_id = (select auth.uid()));

create policy "Workspaces can be renamed by their admins"
on public.workspaces for update to authenticated
using ((select private.is_workspace_admin(id)) or (select private.is_admin()))
with check ((select private.is_workspace_admin(id)) or (select private.is_admin()));
