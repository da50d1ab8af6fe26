-- public.workspace_wallets: the workspace's members (and platform staff) read their own rows.
-- No write policies: rows are written only by the usage and credit functions.
select private._drop_policies('public.workspace_wallets');

create policy "Wallets are viewable by workspace members and platform staff" on public.workspace_wallets
for select to authenticated
using ((select private.is_workspace_member(workspace_id)) or (select private.is_support()));
