-- subscriptions: workspace members and platform support read them; only
-- activation and the cancel kill switch (SQL by a DBA) write them.
drop policy if exists "Subscriptions are viewable by workspace members and platform support" on public.subscriptions;
create policy "Subscriptions are viewable by workspace members and platform support"
on public.subscriptions
for select
to authenticated
using ((select private.is_workspace_member(workspace_id)) or (select private.is_support()));
