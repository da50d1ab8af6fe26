-- Plans are the public catalogue: every signed-in user reads them; only
-- platform admins change them.
select private.drop_policies('public.plans');

create policy "Plans are viewable by signed-in users"
on public.plans for select to authenticated
using (true);

create policy "Plans can be created by platform admins"
on public.plans for insert to authenticated
with check ((select private.is_admin()));

create policy "Plans can be updated by platform admins"
on public.plans for update to authenticated
using ((select private.is_admin()))
with check ((select private.is_admin()));

create policy "Plans can be deleted by platform admins"
on public.plans for delete to authenticated
using ((select private.is_admin()));
