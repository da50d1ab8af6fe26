-- private.verify_twilio_signature: check X-Twilio-Signature; null when valid,
-- else the reason (missing_signature, missing_url, unsupported_algorithm,
-- body_hash_mismatch, payload_mismatch, raw_body_not_json, signature_mismatch).
--
-- Mirrors RequestValidator.validate: the URL with and without its port both
-- count (Twilio's own signing is inconsistent there); a bodySHA256 query
-- parameter means a JSON body, hashed with SHA-256 and signed with no params.
-- The HMAC over the URL is checked first, so a forged request is signature_mismatch
-- before its body is hashed or parsed; a body that does not parse is
-- raw_body_not_json. It raises only when the check cannot run (auth token missing).
-- headers must have lower-case keys. The auth token comes from Vault.
create or replace function private.verify_twilio_signature(
    headers jsonb,
    payload jsonb,
    raw_body text,
    url text
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_signature text := verify_twilio_signature.headers ->> 'x-twilio-signature';
    v_settings text := verify_twilio_signature.headers ->> 'x-twilio-webhooks-signature-settings';
    v_algorithm text := 'sha1';
    v_params jsonb := verify_twilio_signature.payload;
    v_body_hash text;
    v_token text;
    v_parts text[];
    v_other_url text;
    v_valid boolean;
begin
    if coalesce(v_signature, '') = '' then
        return 'missing_signature';
    end if;
    if coalesce(verify_twilio_signature.url, '') = '' then
        return 'missing_url';
    end if;
    if v_settings is not null then
        v_algorithm := coalesce(
            pg_catalog.upper(pg_catalog.btrim(pg_catalog.substring(v_settings, 'algorithm=([^,]*)'))),
            'HMAC_SHA1'
        );
        v_algorithm := case v_algorithm when 'HMAC_SHA1' then 'sha1' when 'HMAC_SHA256' then 'sha256' end;
        if v_algorithm is null then
            return 'unsupported_algorithm';
        end if;
    end if;

    -- A bodySHA256 query parameter means a JSON body: Twilio then signs the URL alone.
    v_body_hash := pg_catalog.substring(verify_twilio_signature.url, '[?&]bodySHA256=([^&#]*)');
    if v_body_hash is not null then
        v_params := '{}';
    end if;

    -- The keyed HMAC first: nothing a sender controls (the body's hash, its JSON) is
    -- looked at before the request is known to come from Twilio.
    v_token := private.vault_secret('twilio_auth_token');
    v_valid := private.constant_time_equals(
        pg_catalog.convert_to(
            private.twilio_signature(v_token, verify_twilio_signature.url, v_params, v_algorithm), 'UTF8'
        ),
        pg_catalog.convert_to(v_signature, 'UTF8')
    );
    if not v_valid then
        -- The same URL with its port removed, or with the scheme's default port added.
        v_parts := pg_catalog.regexp_match(
            verify_twilio_signature.url, '^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)(.*)$'
        );
        if v_parts is not null then
            v_other_url := case
                when v_parts[2] ~ ':[0-9]*$'
                    then v_parts[1] || pg_catalog.split_part(v_parts[2], ':', 1) || v_parts[3]
                else v_parts[1] || v_parts[2]
                    || case when pg_catalog.lower(v_parts[1]) = 'https://' then ':443' else ':80' end
                    || v_parts[3]
            end;
            v_valid := private.constant_time_equals(
                pg_catalog.convert_to(private.twilio_signature(v_token, v_other_url, v_params, v_algorithm), 'UTF8'),
                pg_catalog.convert_to(v_signature, 'UTF8')
            );
        end if;
    end if;
    if not v_valid then
        return 'signature_mismatch';
    end if;

    if v_body_hash is not null then
        if not private.constant_time_equals(
            pg_catalog.convert_to(
                pg_catalog.encode(
                    extensions.digest(pg_catalog.convert_to(coalesce(verify_twilio_signature.raw_body, ''), 'UTF8'),
                        'sha256'),
                    'hex'
                ),
                'UTF8'
            ),
            pg_catalog.convert_to(v_body_hash, 'UTF8')
        ) then
            return 'body_hash_mismatch';
        end if;
        -- The signature covers the body through its hash: what is processed must be that body.
        -- Any body the JSON parser refuses (bad syntax, numeric overflow, \u0000, nesting
        -- too deep) is the sender's: a rejection, never a check that "could not run".
        begin
            if verify_twilio_signature.raw_body::jsonb is distinct from verify_twilio_signature.payload then
                return 'payload_mismatch';
            end if;
        exception when data_exception or program_limit_exceeded then
            return 'raw_body_not_json';
        end;
    end if;
    return null;
end
$$;

comment on function private.verify_twilio_signature(jsonb, jsonb, text, text) is
'Null when X-Twilio-Signature is valid for the URL and form parameters, else why not.';
revoke all on function private.verify_twilio_signature(jsonb, jsonb, text, text) from public;
