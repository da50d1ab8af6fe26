-- reconciliation_items: each (workspace, metric, day) a run found not matching.
-- Platform staff read them; only run_reconciliation (definer code) writes them.
-- Not shown to workspace members: an unconfirmed finding (a provider's late or
-- wrong report) is triaged by staff first; members see their own usage in
-- usage_events and billing_line_items.
select private.drop_policies('public.reconciliation_items');

create policy "Reconciliation items are viewable by platform staff"
on public.reconciliation_items for select to authenticated
using ((select private.is_support()));
