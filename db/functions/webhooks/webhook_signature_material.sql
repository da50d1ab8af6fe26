-- private.webhook_signature_material: the headers a provider's signature lives in.
--
-- Two deliveries with the same payload, raw body, URL and these headers carry the
-- same signature over the same bytes: if one was verified, the other is
-- authentic too (private._ingest_webhook records such a copy as a duplicate
-- without checking the signature again). headers must have lower-case keys.
create or replace function private.webhook_signature_material(provider text, headers jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
    return case webhook_signature_material.provider
        when 'twilio' then pg_catalog.jsonb_build_array(
            webhook_signature_material.headers -> 'x-twilio-signature',
            webhook_signature_material.headers -> 'x-twilio-webhooks-signature-settings'
        )
        when 'meta' then pg_catalog.jsonb_build_array(webhook_signature_material.headers -> 'x-hub-signature-256')
        when 'standard' then pg_catalog.jsonb_build_array(
            webhook_signature_material.headers -> 'webhook-id',
            webhook_signature_material.headers -> 'webhook-timestamp',
            webhook_signature_material.headers -> 'webhook-signature'
        )
        when 'paymob' then pg_catalog.jsonb_build_array(webhook_signature_material.headers -> 'hmac')
    end;
end
$$;

comment on function private.webhook_signature_material(text, jsonb) is
'The signature-bearing headers of a delivery (identical material + identical bytes = identical verdict).';
revoke all on function private.webhook_signature_material(text, jsonb) from public;
