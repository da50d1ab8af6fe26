-- webhook_queue: raw deliveries (bodies with PII, signature headers) are read by
-- platform admins only. Writes go through the ingestion functions, never the API.
drop policy if exists "Webhook deliveries are viewable by platform admins" on public.webhook_queue;
create policy "Webhook deliveries are viewable by platform admins" on public.webhook_queue
for select to authenticated
using ((select private.is_admin()));
