-- private.verify_stored_webhook: verify a stored delivery late, and claim its
-- idempotency key when it passes; null when it is to be processed, else its outcome.
--
-- For a delivery whose signature check could not run when it arrived, or a
-- rejected one replayed. A forged one answers rejected (signature false: the
-- caller alerts), one missing required fields rejected with that reason. One that
-- passes claims its key there and then (signature_valid true,
-- webhook_queue_verified_key_idx); if a verified holder of the key exists already
-- (the genuine copy arrived and was processed meanwhile), it answers duplicate of
-- that one instead. It runs inside private.run_webhook's sub-transaction, so a
-- processing failure after it undoes the claim with it. headers must have
-- lower-case keys. Called by private.run_webhook.
create or replace function private.verify_stored_webhook(
    webhook_id bigint,
    provider text,
    payload jsonb,
    headers jsonb,
    raw_body text,
    url text
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_reason text;
    v_holder bigint;
    v_holder_status text;
begin
    v_reason := private.verify_webhook_signature(
        verify_stored_webhook.provider, verify_stored_webhook.payload, verify_stored_webhook.headers,
        verify_stored_webhook.raw_body, verify_stored_webhook.url
    );
    if v_reason is not null then
        return pg_catalog.jsonb_build_object('status', 'rejected', 'reason', v_reason, 'signature', false);
    end if;
    v_reason := 'missing_required_fields: ' || (
        private.classify_webhook(
            verify_stored_webhook.provider, verify_stored_webhook.payload, verify_stored_webhook.headers
        )
    ).missing_fields;
    if v_reason is not null then
        return pg_catalog.jsonb_build_object('status', 'rejected', 'reason', v_reason);
    end if;
    -- Verified: claim the key, or find who holds it. A rejected row being replayed
    -- says received (being processed) until its outcome is written by the caller,
    -- so that it claims the key too (rejected rows claim nothing).
    begin
        update public.webhook_queue as q
        set signature_valid = true,
            status = case when q.status = 'rejected' then 'received' else q.status end
        where q.id = verify_stored_webhook.webhook_id;
    exception when unique_violation then
        -- (This row's claim failed, so it is not the holder.)
        select h.id, h.status
        into v_holder, v_holder_status
        from public.webhook_queue as r
        cross join lateral private.webhook_key_holder(r.provider, r.idempotency_key) as h
        where r.id = verify_stored_webhook.webhook_id;
        if v_holder is null then
            raise exception using
                errcode = '40001',
                message = 'idempotency_key_contended',
                detail = pg_catalog.format('webhook %s', verify_stored_webhook.webhook_id),
                hint = 'The sweeper tries it again.';
        end if;
        return pg_catalog.jsonb_build_object(
            'status', 'duplicate', 'original_webhook_id', v_holder, 'original_status', v_holder_status
        );
    end;
    return null;
end
$$;

comment on function private.verify_stored_webhook(bigint, text, jsonb, jsonb, text, text) is
'Verify a stored delivery late and claim its idempotency key; null when it is to be processed, else rejected or '
'duplicate.';
revoke all on function private.verify_stored_webhook(bigint, text, jsonb, jsonb, text, text) from public;
