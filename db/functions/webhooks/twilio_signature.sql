-- private._twilio_signature: the X-Twilio-Signature Twilio computes for a request.
--
-- Twilio's algorithm (and twilio.request_validator.RequestValidator's): the full
-- URL, then every form parameter sorted by name (and a repeated parameter's
-- values sorted), each appended as name + value; HMAC (SHA-1 by default, SHA-256
-- when the signature-settings header asks for it) keyed by the auth token;
-- base64. Python sorts by code point, which is byte order in UTF-8: collate "C".
-- A JSON array value stands for a repeated form field.
create or replace function private._twilio_signature(
    auth_token text,
    url text,
    params jsonb,
    algorithm text default 'sha1'
)
returns text
language sql
stable
set search_path = ''
as $$
    select pg_catalog.encode(
        extensions.hmac(
            pg_catalog.convert_to(
                _twilio_signature.url || coalesce((
                    select pg_catalog.string_agg(p.k || p.v, '' order by p.k collate "C", p.v collate "C")
                    from (
                        select e.key as k, e.value #>> '{}' as v
                        from pg_catalog.jsonb_each(_twilio_signature.params) as e
                        where pg_catalog.jsonb_typeof(e.value) <> 'array'
                        union
                        select e.key, a.value
                        from pg_catalog.jsonb_each(_twilio_signature.params) as e
                        cross join lateral pg_catalog.jsonb_array_elements_text(e.value) as a (value)
                        where pg_catalog.jsonb_typeof(e.value) = 'array'
                    ) as p
                ), ''),
                'UTF8'
            ),
            pg_catalog.convert_to(_twilio_signature.auth_token, 'UTF8'),
            _twilio_signature.algorithm
        ),
        'base64'
    )
$$;

comment on function private._twilio_signature(text, text, jsonb, text) is
'Twilio request signature (base64 HMAC over the URL and the sorted form parameters).';
revoke all on function private._twilio_signature(text, text, jsonb, text) from public;
