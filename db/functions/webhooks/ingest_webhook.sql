-- private._ingest_webhook: the implementation of public.ingest_webhook.
--
-- Order of work, and why:
-- 1. Arguments that cannot be a delivery at all (unknown provider, payload not a
--    JSON object, headers not an object, more than 256 KiB) raise 22023: the
--    caller's bug, answered with a clear 400 before anything is written.
-- 2. Classify (event type, idempotency key, missing fields) and verify the
--    signature; both are pure computations, done before the insert so a forged
--    delivery never claims an idempotency key. A check that cannot run (secret
--    missing from Vault) keeps the delivery failed, to be verified and retried by
--    the sweeper, and it claims no key meanwhile (webhook_queue_verified_key_idx
--    covers verified rows only), so an unchecked copy, forged or not, never shadows
--    the genuine delivery that follows it; a copy of a delivery already verified is
--    stored as that one's duplicate. A byte-identical copy of an already verified
--    delivery skips the check (same bytes, same verdict).
-- 3. Insert the raw row. Rejected rows (bad signature: alerted; missing fields)
--    are plain inserts. A verified row claims (provider, idempotency_key) among
--    the verified rows with ON CONFLICT DO NOTHING: of N concurrent copies one
--    inserts, and the others wait for its transaction, see the conflict, and are
--    stored as duplicate rows pointing at it. No copy is ever processed twice.
-- 4. Queued (process_now false): the claimed row is inserted saying queued and the
--    call answers at once; the drain (private._drain_webhooks) processes it within
--    seconds. Processed in the call (process_now true): the claimed row is processed
--    in a sub-transaction (private._run_webhook); a failure leaves the raw row
--    committed as failed, with its error.
-- In the call, the claimed row is inserted already saying processed (attempts 1,
-- processed_at now): the usual outcome, so a delivery that is processed costs one
-- write of the raw row, not an insert and an update. Any other outcome (failed,
-- unknown_phone, a skip reason) updates the row before the transaction ends, and
-- no other session can see the row before it ends, so no one ever reads a
-- processed that did not happen; an error that aborts the whole call takes the
-- row with it.
-- process_now null means the provider's default: Paymob in the call (a payment
-- callback is rare, and its payer waits for the plan it paid for), every other
-- provider queued (status callbacks come in campaign-sized bursts, and the provider
-- only needs to know the delivery is safe).
-- Callers: service_role (public.ingest_webhook), and JWT-less backend sessions.
create or replace function private._ingest_webhook(
    provider text,
    payload jsonb,
    headers jsonb,
    raw_body text,
    url text,
    process_now boolean
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_limit constant integer := 262144;
    v_headers jsonb := coalesce(_ingest_webhook.headers, '{}');
    v_class record;
    v_reason text;
    v_error text;
    v_state text;
    v_message text;
    v_signature_valid boolean;
    v_id bigint;
    v_original_id bigint;
    v_original_status text;
    v_result jsonb;
    v_material jsonb;
    v_process_now boolean := coalesce(_ingest_webhook.process_now, _ingest_webhook.provider = 'paymob');
begin
    if not private._webhooks_backend_caller() then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = 'ingest_webhook is for the service_role backend only',
            hint = 'Call it from an Edge Function or backend with the service_role key.';
    end if;
    if _ingest_webhook.provider is null or _ingest_webhook.provider not in ('twilio', 'meta', 'paymob', 'standard') then
        raise exception using
            errcode = '22023',
            message = 'unknown_provider',
            detail = pg_catalog.format('provider %L', _ingest_webhook.provider),
            hint = 'provider is one of twilio, meta, paymob, standard.';
    end if;
    if _ingest_webhook.payload is null or pg_catalog.jsonb_typeof(_ingest_webhook.payload) <> 'object' then
        raise exception using
            errcode = '22023',
            message = 'malformed_payload',
            detail = pg_catalog.format(
                'payload is %s, not a JSON object', coalesce(pg_catalog.jsonb_typeof(_ingest_webhook.payload), 'null')
            ),
            hint = 'Pass the parsed body as a JSON object (Twilio: the form fields as an object).';
    end if;
    if pg_catalog.jsonb_typeof(v_headers) <> 'object' then
        raise exception using
            errcode = '22023',
            message = 'malformed_headers',
            detail = pg_catalog.format('headers is %s, not a JSON object', pg_catalog.jsonb_typeof(v_headers)),
            hint = 'Pass the request headers as a JSON object of name: value.';
    end if;
    if pg_catalog.pg_column_size(_ingest_webhook.payload) > v_limit
        or coalesce(pg_catalog.octet_length(_ingest_webhook.raw_body), 0) > v_limit then
        raise exception using
            errcode = '22023',
            message = 'payload_too_large',
            detail = pg_catalog.format(
                'payload %s bytes, raw_body %s bytes; the limit is %s bytes each',
                pg_catalog.pg_column_size(_ingest_webhook.payload),
                coalesce(pg_catalog.octet_length(_ingest_webhook.raw_body), 0),
                v_limit
            ),
            hint = 'Webhook bodies over 256 KiB are not accepted.';
    end if;
    if v_headers <> '{}' then
        -- HTTP header names are case-insensitive: keep them lower-case once, here.
        -- Spellings of one name that differ only by case are one header whose values
        -- are joined with ', ', as HTTP combines repeated fields: no value is dropped,
        -- and a signature header given twice verifies as what it is, neither value.
        -- Credentials a caller may forward with the request (its own bearer token,
        -- cookies, API keys) are never stored: no secret in plaintext in any column.
        select coalesce(pg_catalog.jsonb_object_agg(h.name, h.value), '{}')
        into v_headers
        from (
            select
                pg_catalog.lower(e.key) as name,
                case
                    when pg_catalog.count(*) = 1 then (pg_catalog.array_agg(e.value))[1]
                    else pg_catalog.to_jsonb(
                        pg_catalog.string_agg(e.value #>> '{}', ', ' order by e.key collate "C")
                    )
                end as value
            from pg_catalog.jsonb_each(v_headers) as e
            where pg_catalog.lower(e.key) not in (
                'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'apikey', 'x-api-key'
            )
            group by pg_catalog.lower(e.key)
        ) as h;
    end if;

    v_class := private._classify_webhook(_ingest_webhook.provider, _ingest_webhook.payload, v_headers);
    -- The signature-bearing headers of this delivery, computed once for the probe.
    v_material := private._webhook_signature_material(_ingest_webhook.provider, v_headers);

    -- A byte-identical copy of a delivery whose signature was verified (the usual
    -- provider redelivery) is authentic by construction: it is stored as a
    -- duplicate of it at once, in the statement that finds it, without paying for
    -- Vault and the HMAC again. Anything else, a forged copy included, is verified
    -- below. (At most one row matches: the key's verified holder.)
    with original as (
        select q.id, q.status
        from public.webhook_queue as q
        where q.provider = _ingest_webhook.provider
            and q.idempotency_key = v_class.idempotency_key
            and q.status not in ('duplicate', 'rejected')
            and q.signature_valid
            and q.payload = _ingest_webhook.payload
            and q.url is not distinct from _ingest_webhook.url
            and q.raw_body is not distinct from _ingest_webhook.raw_body
            and private._webhook_signature_material(q.provider, q.headers) = v_material
    ),

    copy as (
        insert into public.webhook_queue (
            provider, event_type, idempotency_key, status, headers, payload, raw_body, url,
            signature_valid, duplicate_of
        )
        select
            _ingest_webhook.provider, v_class.event_type, v_class.idempotency_key, 'duplicate', v_headers,
            _ingest_webhook.payload, _ingest_webhook.raw_body, _ingest_webhook.url, true, original.id
        from original
        returning id
    )

    select copy.id, original.id, original.status
    into v_id, v_original_id, v_original_status
    from copy cross join original;
    if v_id is not null then
        return pg_catalog.jsonb_build_object(
            'webhook_id', v_id, 'status', 'duplicate', 'idempotency_key', v_class.idempotency_key,
            'duplicate', true, 'original_webhook_id', v_original_id, 'original_status', v_original_status
        );
    end if;

    begin
        v_reason := private._verify_webhook_signature(
            _ingest_webhook.provider, _ingest_webhook.payload, v_headers, _ingest_webhook.raw_body,
            _ingest_webhook.url
        );
        v_signature_valid := v_reason is null;
    exception when others then
        get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
        v_error := 'signature check could not run: ' || v_state || ': ' || v_message;
    end;
    if v_signature_valid and v_class.missing_fields is not null then
        v_reason := 'missing_required_fields: ' || v_class.missing_fields;
    end if;

    if v_reason is not null then
        insert into public.webhook_queue (
            provider, event_type, idempotency_key, status, headers, payload, raw_body, url,
            signature_valid, last_error
        )
        values (
            _ingest_webhook.provider, v_class.event_type, v_class.idempotency_key, 'rejected', v_headers,
            _ingest_webhook.payload, _ingest_webhook.raw_body, _ingest_webhook.url, v_signature_valid, v_reason
        )
        returning id into v_id;
        if not v_signature_valid then
            perform private._alert_signature_failure(_ingest_webhook.provider, v_id, v_reason);
        end if;
        return pg_catalog.jsonb_build_object(
            'webhook_id', v_id, 'status', 'rejected', 'idempotency_key', v_class.idempotency_key,
            'duplicate', false, 'error', v_reason
        );
    end if;

    if v_error is not null then
        -- Not known to be genuine: it claims no key. A copy of a verified delivery is
        -- its duplicate; anything else waits, failed, for the sweeper to verify it
        -- (private._run_webhook claims the key then, or makes it a duplicate).
        select h.id, h.status
        into v_original_id, v_original_status
        from private._webhook_key_holder(_ingest_webhook.provider, v_class.idempotency_key) as h;
        if v_original_id is null then
            insert into public.webhook_queue (
                provider, event_type, idempotency_key, status, headers, payload, raw_body, url,
                signature_valid, attempts, last_error, next_attempt_at
            )
            values (
                _ingest_webhook.provider, v_class.event_type, v_class.idempotency_key, 'failed', v_headers,
                _ingest_webhook.payload, _ingest_webhook.raw_body, _ingest_webhook.url, null, 1, v_error,
                pg_catalog.now() + interval '1 minute'
            )
            returning id into v_id;
            return pg_catalog.jsonb_build_object(
                'webhook_id', v_id, 'status', 'failed', 'idempotency_key', v_class.idempotency_key,
                'duplicate', false, 'error', v_error
            );
        end if;
    end if;

    -- Claim the key (verified rows only). Bounded retry: the claiming row can only
    -- vanish between the two statements if it expired meanwhile; then claim again.
    for v_attempt in 1..3 loop
        if v_original_id is null then
            -- Queued, or processed in this call: then the row says processed at once
            -- (see the top), with this attempt counted.
            insert into public.webhook_queue (
                provider, event_type, idempotency_key, status, headers, payload, raw_body, url,
                signature_valid, attempts, processed_at
            )
            values (
                _ingest_webhook.provider, v_class.event_type, v_class.idempotency_key,
                case when v_process_now then 'processed' else 'queued' end,
                v_headers, _ingest_webhook.payload, _ingest_webhook.raw_body, _ingest_webhook.url,
                v_signature_valid,
                case when v_process_now then 1 else 0 end,
                case when v_process_now then pg_catalog.now() end
            )
            on conflict (provider, idempotency_key)
            where signature_valid and status not in ('duplicate', 'rejected')
            do nothing
            returning id into v_id;
            exit when v_id is not null;

            select h.id, h.status
            into v_original_id, v_original_status
            from private._webhook_key_holder(_ingest_webhook.provider, v_class.idempotency_key) as h;
        end if;
        if v_original_id is not null then
            insert into public.webhook_queue (
                provider, event_type, idempotency_key, status, headers, payload, raw_body, url,
                signature_valid, duplicate_of
            )
            values (
                _ingest_webhook.provider, v_class.event_type, v_class.idempotency_key, 'duplicate', v_headers,
                _ingest_webhook.payload, _ingest_webhook.raw_body, _ingest_webhook.url, v_signature_valid,
                v_original_id
            )
            returning id into v_id;
            return pg_catalog.jsonb_build_object(
                'webhook_id', v_id, 'status', 'duplicate', 'idempotency_key', v_class.idempotency_key,
                'duplicate', true, 'original_webhook_id', v_original_id, 'original_status', v_original_status
            );
        end if;
    end loop;
    if v_id is null then
        raise exception using
            errcode = '40001',
            message = 'idempotency_key_contended',
            detail = pg_catalog.format('%s %s', _ingest_webhook.provider, v_class.idempotency_key),
            hint = 'Deliver it again.';
    end if;

    if not v_process_now then
        return pg_catalog.jsonb_build_object(
            'webhook_id', v_id,
            'status', 'queued',
            'idempotency_key', v_class.idempotency_key,
            'duplicate', false,
            'event_type', v_class.event_type
        );
    end if;
    v_result := private._run_webhook(
        v_id, _ingest_webhook.provider, v_class.event_type, _ingest_webhook.payload, 'received',
        stored_as_processed => true
    );
    -- A permanent error dead-letters the row at once; the answer stays failed
    -- (the contract's status), with dead_letter saying it will not be retried.
    return pg_catalog.jsonb_build_object(
        'webhook_id', v_id,
        'status', case v_result ->> 'status' when 'dead_letter' then 'failed' else v_result ->> 'status' end,
        'dead_letter', v_result ->> 'status' = 'dead_letter',
        'idempotency_key', v_class.idempotency_key,
        'duplicate', false,
        'event_type', v_class.event_type,
        'skip_reason', v_result ->> 'skip_reason',
        'error', v_result ->> 'error'
    );
end
$$;

comment on function private._ingest_webhook(text, jsonb, jsonb, text, text, boolean) is
'Implementation of public.ingest_webhook: verify, deduplicate, store raw; queue it or process it in a sub-transaction.';
revoke all on function private._ingest_webhook(text, jsonb, jsonb, text, text, boolean) from public;
grant execute on function private._ingest_webhook(text, jsonb, jsonb, text, text, boolean) to service_role;

-- public.ingest_webhook: accept one webhook delivery from a provider.
--
--   select public.ingest_webhook(
--       provider => 'twilio',                      -- twilio | meta | paymob | standard
--       payload  => '{"MessageSid": "SM...", ...}', -- the body as a JSON object (Twilio: its form fields)
--       headers  => '{"X-Twilio-Signature": "..."}',
--       raw_body => 'MessageSid=SM...&...',         -- the body as received (required for Meta, Standard)
--       url      => 'https://.../twilio/sms',       -- the URL the provider called (Twilio, Paymob ?hmac=)
--       process_now => null                        -- true: process in this call; false: queue; null: provider default
--   );
--   -> {webhook_id, status, idempotency_key, duplicate, ...}
--      status: queued | processed | duplicate | unknown_phone | failed | rejected
--
-- Who: service_role (Edge Functions, backends). The raw delivery is stored in
-- every case. By default (process_now null) a verified new delivery is answered
-- queued once stored, and public.drain_webhooks processes it within seconds;
-- Paymob callbacks are processed in the call. process_now => true processes any
-- delivery in the call and answers its outcome (processed, unknown_phone, failed).
-- A processing failure leaves it failed for the retry sweeper; a bad signature
-- stores it rejected and alerts. Arguments that are not a delivery at all raise
-- 22023 (see private._ingest_webhook).
create or replace function public.ingest_webhook(
    provider text,
    payload jsonb,
    headers jsonb default '{}',
    raw_body text default null,
    url text default null,
    process_now boolean default null
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    -- plpgsql, not sql: on the hot path, so its call is planned once per connection.
    return private._ingest_webhook(
        ingest_webhook.provider,
        ingest_webhook.payload,
        ingest_webhook.headers,
        ingest_webhook.raw_body,
        ingest_webhook.url,
        ingest_webhook.process_now
    );
exception when lock_not_available then
    -- Blocked before the raw row was stored (a same-key copy's transaction is stuck):
    -- a 503 lock_timeout the provider retries. Processing blocked after it is stored
    -- is a failed attempt instead (private._run_webhook), and the sweeper retries it.
    return private._lock_timeout(
        'ingest_webhook', pg_catalog.format('%s delivery', ingest_webhook.provider)
    );
end
$$;

comment on function public.ingest_webhook(text, jsonb, jsonb, text, text, boolean) is
'Verify, deduplicate and store one webhook delivery (service_role); queue it for the drain or process it now '
'(docs/api.md).';
revoke all on function public.ingest_webhook(text, jsonb, jsonb, text, text, boolean) from public;
grant execute on function public.ingest_webhook(text, jsonb, jsonb, text, text, boolean) to service_role;

-- The five-argument versions would be ambiguous overloads of these. They are dropped
-- here, in the transaction that creates their successors, rather than in a versioned
-- migration (which runs in an earlier transaction), so no call ever finds no ingest_webhook.
drop function if exists public.ingest_webhook(text, jsonb, jsonb, text, text);
drop function if exists private._ingest_webhook(text, jsonb, jsonb, text, text);
