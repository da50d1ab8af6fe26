-- retention_policies: how long expiring rows are kept. Platform staff read
-- them; they change by migration or by an operator in SQL, never through the API.
select private.drop_policies('public.retention_policies');

create policy "Retention policies are viewable by platform staff"
on public.retention_policies for select to authenticated
using ((select private.is_support()));
