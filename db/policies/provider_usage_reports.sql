-- provider_usage_reports: what providers say was used. Platform staff read it;
-- backends load it with service_role (which bypasses RLS), so there is no write
-- policy and authenticated has no write grant. Workspace members do not read it:
-- it is the raw input of an internal control, not a statement of their usage.
select private.drop_policies('public.provider_usage_reports');

create policy "Provider usage reports are viewable by platform staff"
on public.provider_usage_reports for select to authenticated
using ((select private.is_support()));
