-- public.billing_line_items: the workspace's members (and platform staff) read their own rows.
-- No write policies: rows are written only by the usage and credit functions.
select private._drop_policies('public.billing_line_items');

create policy "Billing line items are viewable by members and platform staff" on public.billing_line_items
for select to authenticated
using ((select private.is_workspace_member(workspace_id)) or (select private.is_support()));
