-- private.check_webhook_arguments: raise 22023 for arguments of ingest_webhook
-- that cannot be a delivery at all.
--
-- An unknown provider, a payload that is not a JSON object, headers that are not
-- an object, or a body over 256 KiB is the caller's bug: it is answered with a
-- clear 400 before anything is written. headers is the caller's, coalesced to '{}'.
-- Called by private._ingest_webhook, first.
create or replace function private.check_webhook_arguments(
    provider text,
    payload jsonb,
    headers jsonb,
    raw_body text
)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
    v_limit constant integer := 262144;
begin
    if check_webhook_arguments.provider is null
        or check_webhook_arguments.provider not in ('twilio', 'meta', 'paymob', 'standard') then
        raise exception using
            errcode = '22023',
            message = 'unknown_provider',
            detail = pg_catalog.format('provider %L', check_webhook_arguments.provider),
            hint = 'provider is one of twilio, meta, paymob, standard.';
    end if;
    if check_webhook_arguments.payload is null
        or pg_catalog.jsonb_typeof(check_webhook_arguments.payload) <> 'object' then
        raise exception using
            errcode = '22023',
            message = 'malformed_payload',
            detail = pg_catalog.format(
                'payload is %s, not a JSON object',
                coalesce(pg_catalog.jsonb_typeof(check_webhook_arguments.payload), 'null')
            ),
            hint = 'Pass the parsed body as a JSON object (Twilio: the form fields as an object).';
    end if;
    if pg_catalog.jsonb_typeof(check_webhook_arguments.headers) <> 'object' then
        raise exception using
            errcode = '22023',
            message = 'malformed_headers',
            detail = pg_catalog.format(
                'headers is %s, not a JSON object', pg_catalog.jsonb_typeof(check_webhook_arguments.headers)
            ),
            hint = 'Pass the request headers as a JSON object of name: value.';
    end if;
    if pg_catalog.pg_column_size(check_webhook_arguments.payload) > v_limit
        or coalesce(pg_catalog.octet_length(check_webhook_arguments.raw_body), 0) > v_limit then
        raise exception using
            errcode = '22023',
            message = 'payload_too_large',
            detail = pg_catalog.format(
                'payload %s bytes, raw_body %s bytes; the limit is %s bytes each',
                pg_catalog.pg_column_size(check_webhook_arguments.payload),
                coalesce(pg_catalog.octet_length(check_webhook_arguments.raw_body), 0),
                v_limit
            ),
            hint = 'Webhook bodies over 256 KiB are not accepted.';
    end if;
end
$$;

comment on function private.check_webhook_arguments(text, jsonb, jsonb, text) is
'Raise 22023 (unknown_provider, malformed_payload, malformed_headers, payload_too_large) for ingest_webhook arguments '
'that cannot be a delivery.';
revoke all on function private.check_webhook_arguments(text, jsonb, jsonb, text) from public;
