-- private.verify_meta_signature: check Meta's X-Hub-Signature-256; null when
-- valid, else the reason (missing_signature, malformed_signature,
-- missing_raw_body, signature_mismatch, raw_body_not_json, payload_mismatch).
--
-- Meta signs the raw request body: 'sha256=' + hex HMAC-SHA256 keyed by the app
-- secret (Vault: meta_app_secret). The payload the caller passes must be that
-- body parsed, so what is processed is exactly what was signed.
-- headers must have lower-case keys.
create or replace function private.verify_meta_signature(headers jsonb, payload jsonb, raw_body text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_signature text := verify_meta_signature.headers ->> 'x-hub-signature-256';
    v_body jsonb;
begin
    if coalesce(v_signature, '') = '' then
        return 'missing_signature';
    end if;
    if v_signature !~ '^sha256=[0-9A-Fa-f]{64}$' then
        return 'malformed_signature';
    end if;
    if verify_meta_signature.raw_body is null then
        return 'missing_raw_body';
    end if;
    if not private.constant_time_equals(
        extensions.hmac(
            pg_catalog.convert_to(verify_meta_signature.raw_body, 'UTF8'),
            pg_catalog.convert_to(private.vault_secret('meta_app_secret'), 'UTF8'),
            'sha256'
        ),
        pg_catalog.decode(pg_catalog.substr(v_signature, 8), 'hex')
    ) then
        return 'signature_mismatch';
    end if;
    begin
        v_body := verify_meta_signature.raw_body::jsonb;
    exception when data_exception or program_limit_exceeded then
        -- Whatever the parser refuses (syntax, numeric overflow, \u0000, nesting too deep).
        return 'raw_body_not_json';
    end;
    if v_body is distinct from verify_meta_signature.payload then
        return 'payload_mismatch';
    end if;
    return null;
end
$$;

comment on function private.verify_meta_signature(jsonb, jsonb, text) is
'Null when X-Hub-Signature-256 matches the raw body and the payload is that body, else why not.';
revoke all on function private.verify_meta_signature(jsonb, jsonb, text) from public;
