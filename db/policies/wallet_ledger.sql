-- public.wallet_ledger: the workspace's members (and platform staff) read their own rows.
-- No write policies: rows are written only by the usage and credit functions.
drop policy if exists "Wallet ledger entries are viewable by workspace members and platform staff"
on public.wallet_ledger;
create policy "Wallet ledger entries are viewable by workspace members and platform staff" on public.wallet_ledger
for select to authenticated
using ((select private.is_workspace_member(workspace_id)) or (select private.is_support()));
