-- Platform roles: a user sees their own; only platform admins see and write all.
select private.drop_policies('public.user_roles');

create policy "Platform roles are viewable by their holder and platform admins"
on public.user_roles for select to authenticated
using (user_id = (select auth.uid()) or (select private.is_admin()));

create policy "Platform roles can be granted by platform admins"
on public.user_roles for insert to authenticated
with check ((select private.is_admin()));

create policy "Platform roles can be changed by platform admins"
on public.user_roles for update to authenticated
using ((select private.is_admin()))
with check ((select private.is_admin()));

create policy "Platform roles can be revoked by platform admins"
on public.user_roles for delete to authenticated
using ((select private.is_admin()));
