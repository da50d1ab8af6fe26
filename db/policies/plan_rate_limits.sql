-- public.plan_rate_limits: catalogue data every signed-in user may read; written by migrations only.
select private.drop_policies('public.plan_rate_limits');

create policy "Plan rate limits are viewable by signed-in users" on public.plan_rate_limits
for select to authenticated
using (true);
