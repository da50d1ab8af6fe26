-- reconciliation_tolerances: how far internal and provider usage may differ.
-- Platform staff read them; they change by migration or by an operator in SQL,
-- never through the API.
select private.drop_policies('public.reconciliation_tolerances');

create policy "Reconciliation tolerances are viewable by platform staff"
on public.reconciliation_tolerances for select to authenticated
using ((select private.is_support()));
