-- private.verify_webhook_signature: authenticate a delivery by its provider's
-- scheme. Null when authentic, else the reason it is not.
--
-- Raises (it does not answer) when the check itself cannot run, e.g. a signing
-- secret missing from Vault (PT404): the caller keeps the delivery as failed and
-- retries it later, rather than rejecting what may be genuine.
-- Paymob: the HMAC comes from the callback URL's hmac query parameter or an hmac
-- header, and private.verify_paymob_hmac (payments) checks it.
-- headers must have lower-case keys.
create or replace function private.verify_webhook_signature(
    provider text,
    payload jsonb,
    headers jsonb,
    raw_body text,
    url text
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_hmac text;
begin
    case verify_webhook_signature.provider
        when 'twilio' then
            return private.verify_twilio_signature(
                verify_webhook_signature.headers, verify_webhook_signature.payload,
                verify_webhook_signature.raw_body, verify_webhook_signature.url
            );
        when 'meta' then
            return private.verify_meta_signature(
                verify_webhook_signature.headers, verify_webhook_signature.payload, verify_webhook_signature.raw_body
            );
        when 'standard' then
            return private.verify_standard_webhook(
                verify_webhook_signature.headers, verify_webhook_signature.payload,
                verify_webhook_signature.raw_body
            );
        when 'paymob' then
            v_hmac := coalesce(
                pg_catalog.substring(verify_webhook_signature.url, '[?&]hmac=([^&#]*)'),
                verify_webhook_signature.headers ->> 'hmac'
            );
            if coalesce(v_hmac, '') = '' then
                return 'missing_signature';
            end if;
            if not coalesce(private.verify_paymob_hmac(verify_webhook_signature.payload, v_hmac), false) then
                return 'signature_mismatch';
            end if;
            return null;
        else
            raise exception using
                errcode = '22023', message = 'unknown_provider',
                detail = pg_catalog.format('provider %L', verify_webhook_signature.provider),
                hint = 'provider is one of twilio, meta, paymob, standard.';
    end case;
end
$$;

comment on function private.verify_webhook_signature(text, jsonb, jsonb, text, text) is
'Null when the delivery''s signature is valid for its provider, else the reason; raises when it cannot check.';
revoke all on function private.verify_webhook_signature(text, jsonb, jsonb, text, text) from public;
