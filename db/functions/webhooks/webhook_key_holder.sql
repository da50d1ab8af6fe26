-- private.webhook_key_holder: the delivery that holds an idempotency key, if any.
--
-- The holder is the one verified (signature_valid), non-duplicate, non-rejected row
-- of the provider and key: the rows webhook_queue_verified_key_idx keeps unique, so
-- this is the same predicate, answered from that index. Ingest asks it when its
-- claim conflicts or its signature check could not run; late verification
-- (private.run_webhook) asks it when its claim conflicts.
create or replace function private.webhook_key_holder(
    provider text,
    idempotency_key text,
    out id bigint,
    out status text
)
language plpgsql
stable
set search_path = ''
as $$
begin
    select q.id, q.status
    into webhook_key_holder.id, webhook_key_holder.status
    from public.webhook_queue as q
    where q.provider = webhook_key_holder.provider
        and q.idempotency_key = webhook_key_holder.idempotency_key
        and q.signature_valid
        and q.status not in ('duplicate', 'rejected');
end
$$;

comment on function private.webhook_key_holder(text, text) is
'The verified delivery holding a provider''s idempotency key (the row webhook_queue_verified_key_idx keeps unique).';
revoke all on function private.webhook_key_holder(text, text) from public;
