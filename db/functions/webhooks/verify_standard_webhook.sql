-- private.verify_standard_webhook: check a Standard Webhooks delivery; null when
-- valid, else the reason (missing_signature, missing_raw_body, malformed_timestamp,
-- timestamp_out_of_tolerance, malformed_secret, signature_mismatch,
-- raw_body_not_json, payload_mismatch).
--
-- The spec (standardwebhooks.com): sign '{webhook-id}.{webhook-timestamp}.{body}'
-- with HMAC-SHA256 keyed by the base64 part of the 'whsec_...' secret (Vault:
-- standard_webhook_secret); webhook-signature holds one or more space-separated
-- 'v1,<base64>' entries (key rotation), any of which may match; the timestamp must
-- be within 5 minutes of now, either way, against replays.
-- headers must have lower-case keys.
create or replace function private.verify_standard_webhook(headers jsonb, payload jsonb, raw_body text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_id text := verify_standard_webhook.headers ->> 'webhook-id';
    v_timestamp text := verify_standard_webhook.headers ->> 'webhook-timestamp';
    v_signatures text := verify_standard_webhook.headers ->> 'webhook-signature';
    v_secret text;
    v_key bytea;
    v_expected bytea;
    v_entry text;
    v_given bytea;
    v_body jsonb;
    v_valid boolean := false;
begin
    if coalesce(v_id, '') = '' or coalesce(v_timestamp, '') = '' or coalesce(v_signatures, '') = '' then
        return 'missing_signature';
    end if;
    if verify_standard_webhook.raw_body is null then
        return 'missing_raw_body';
    end if;
    if v_timestamp !~ '^[0-9]{1,12}(\.[0-9]+)?$' then
        return 'malformed_timestamp';
    end if;
    -- The signed timestamp is the header's whole seconds, as the reference library signs it.
    v_timestamp := pg_catalog.floor(v_timestamp::numeric)::bigint::text;
    if pg_catalog.abs(extract(epoch from pg_catalog.now()) - v_timestamp::numeric) > 300 then
        return 'timestamp_out_of_tolerance';
    end if;

    v_secret := pg_catalog.regexp_replace(private.vault_secret('standard_webhook_secret'), '^whsec_', '');
    begin
        v_key := pg_catalog.decode(
            pg_catalog.rpad(v_secret, ((pg_catalog.length(v_secret) + 3) / 4) * 4, '='), 'base64'
        );
    exception when invalid_parameter_value then
        return 'malformed_secret';
    end;
    v_expected := extensions.hmac(
        pg_catalog.convert_to(v_id || '.' || v_timestamp || '.' || verify_standard_webhook.raw_body, 'UTF8'),
        v_key,
        'sha256'
    );

    -- Check every v1 entry (no early exit): the work done never depends on which one matched.
    foreach v_entry in array pg_catalog.string_to_array(v_signatures, ' ') loop
        continue when v_entry not like 'v1,%';
        begin
            v_given := pg_catalog.decode(pg_catalog.substr(v_entry, 4), 'base64');
        exception when invalid_parameter_value then
            continue;
        end;
        v_valid := private.constant_time_equals(v_expected, v_given) or v_valid;
    end loop;
    if not v_valid then
        return 'signature_mismatch';
    end if;

    begin
        v_body := verify_standard_webhook.raw_body::jsonb;
    exception when data_exception or program_limit_exceeded then
        -- Whatever the parser refuses (syntax, numeric overflow, \u0000, nesting too deep).
        return 'raw_body_not_json';
    end;
    if v_body is distinct from verify_standard_webhook.payload then
        return 'payload_mismatch';
    end if;
    return null;
end
$$;

comment on function private.verify_standard_webhook(jsonb, jsonb, text) is
'Null when a Standard Webhooks delivery (v1 HMAC-SHA256, 5-minute tolerance) is authentic, else why not.';
revoke all on function private.verify_standard_webhook(jsonb, jsonb, text) from public;
