-- private.normalize_webhook_headers: a delivery's headers as they are stored and
-- verified: names lower-case, credentials dropped.
--
-- HTTP header names are case-insensitive: they are lower-cased once, here.
-- Spellings of one name that differ only by case are one header whose values are
-- joined with ', ', as HTTP combines repeated fields: no value is dropped, and a
-- signature header given twice verifies as what it is, neither value.
-- Credentials a caller may forward with the request (its own bearer token,
-- cookies, API keys) are never stored: no secret in plaintext in any column.
-- headers is a JSON object (private.check_webhook_arguments).
create or replace function private.normalize_webhook_headers(headers jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
    v_headers jsonb;
begin
    if normalize_webhook_headers.headers = '{}' then
        return normalize_webhook_headers.headers;
    end if;
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
        from pg_catalog.jsonb_each(normalize_webhook_headers.headers) as e
        where pg_catalog.lower(e.key) not in (
            'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'apikey', 'x-api-key'
        )
        group by pg_catalog.lower(e.key)
    ) as h;
    return v_headers;
end
$$;

comment on function private.normalize_webhook_headers(jsonb) is
'A delivery''s headers as stored: names lower-cased (repeated spellings joined with '', ''), credentials dropped.';
revoke all on function private.normalize_webhook_headers(jsonb) from public;
