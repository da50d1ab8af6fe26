-- public.plan_limits: catalogue data every signed-in user may read; written by migrations only.
select private.drop_policies('public.plan_limits');

create policy "Plan limits are viewable by signed-in users" on public.plan_limits
for select to authenticated
using (true);
