-- payments: workspace owners/admins and platform support read them; nobody
-- writes them through the API (create_payment_request, the Paymob callback
-- and confirm_instapay_payment are the only writers).
drop policy if exists "Payments are viewable by workspace admins and platform support" on public.payments;
create policy "Payments are viewable by workspace admins and platform support"
on public.payments
for select
to authenticated
using ((select private.is_workspace_admin(workspace_id)) or (select private.is_support()));
