-- public.usage_metrics: catalogue data every signed-in user may read; written by migrations only.
select private.drop_policies('public.usage_metrics');

create policy "Usage metrics are viewable by signed-in users" on public.usage_metrics
for select to authenticated
using (true);
