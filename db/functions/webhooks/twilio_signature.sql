-- private.twilio_signature: the X-Twilio-Signature Twilio computes for a request.
--
-- Twilio's algorithm (and twilio.request_validator.RequestValidator's): the full
-- URL, then every form parameter sorted by name (and a repeated parameter's
-- values sorted), each appended as name + value; HMAC (SHA-1 by default, SHA-256
-- when the signature-settings header asks for it) keyed by the auth token;
-- base64. Python sorts by code point, which is byte order in UTF-8: collate "C".
-- A JSON array value stands for a repeated form field.
create or replace function private.twilio_signature(
    auth_token text,
    url text,
    params jsonb,
    algorithm text default 'sha1'
)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    v_signed text;
    v_repeated boolean;
begin
    -- plpgsql, not sql: the queries' plans are cached per connection, not re-planned per call.
    -- One pass over the fields; form fields are plain strings but for a repeated field.
    select
        pg_catalog.string_agg(e.key || (e.value #>> '{}'), '' order by e.key collate "C"),
        coalesce(pg_catalog.bool_or(pg_catalog.jsonb_typeof(e.value) = 'array'), false)
    into v_signed, v_repeated
    from pg_catalog.jsonb_each(twilio_signature.params) as e;
    if v_repeated then
        -- A repeated field (a JSON array) contributes each distinct value, sorted, like a MultiDict.
        select pg_catalog.string_agg(p.k || p.v, '' order by p.k collate "C", p.v collate "C")
        into v_signed
        from (
            select distinct e.key as k, a.value as v
            from pg_catalog.jsonb_each(twilio_signature.params) as e
            cross join lateral pg_catalog.jsonb_array_elements_text(
                case
                    when pg_catalog.jsonb_typeof(e.value) = 'array' then e.value
                    else pg_catalog.jsonb_build_array(e.value)
                end
            ) as a (value)
        ) as p;
    end if;
    return pg_catalog.encode(
        extensions.hmac(
            pg_catalog.convert_to(twilio_signature.url || coalesce(v_signed, ''), 'UTF8'),
            pg_catalog.convert_to(twilio_signature.auth_token, 'UTF8'),
            twilio_signature.algorithm
        ),
        'base64'
    );
end
$$;

comment on function private.twilio_signature(text, text, jsonb, text) is
'Twilio request signature (base64 HMAC over the URL and the sorted form parameters).';
revoke all on function private.twilio_signature(text, text, jsonb, text) from public;
