-- reconciliation_runs: the reconciliation job's reports. Platform staff read
-- them; only run_reconciliation (definer code) writes them, so there is no write
-- policy and no write grant. Workspace members do not read them: a run spans all
-- workspaces, and a finding is triaged by staff (provider lag, import gap or a
-- metering bug) before anything is said to a customer.
select private.drop_policies('public.reconciliation_runs');

create policy "Reconciliation runs are viewable by platform staff"
on public.reconciliation_runs for select to authenticated
using ((select private.is_support()));
