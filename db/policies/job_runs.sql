-- job_runs: the jobs' log. Platform staff read it; only the jobs write it
-- (definer code), so there is no write policy and no write grant.
select private.drop_policies('public.job_runs');

create policy "Job runs are viewable by platform staff"
on public.job_runs for select to authenticated
using ((select private.is_support()));
