-- private.mask_webhook_json: a webhook payload or header set with its PII masked,
-- for staff screens (opsdb console's delivery detail).
--
-- A string is masked (private.mask_pii: first character of each word kept) when
--   * its key names a person or their words: from/to/caller/called (and
--     Twilio's From*/To*/Caller*/Called* fields such as FromCity), body, text,
--     caption, name, email, phone, wa_id, address fields; or
--   * it looks like a phone number or an e-mail address, whatever its key; or
--   * it sits anywhere under a key that holds a person's record (profile,
--     contacts, sender, recipient, billing_data, shipping_data, customer).
-- Signature and credential headers (authorization, cookie, *signature*, hmac)
-- become '***'. Ids, statuses, types, amounts and times stay readable, which is
-- what an operator needs to debug a delivery.
create or replace function private.mask_webhook_json(doc jsonb, mask_all boolean default false)
returns jsonb
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
    v_out jsonb;
begin
    case pg_catalog.jsonb_typeof(doc)
        when 'object' then
            select coalesce(pg_catalog.jsonb_object_agg(
                e.key,
                case
                    when pg_catalog.lower(e.key) ~ '(authorization|cookie|signature|hmac|secret|token)'
                        and pg_catalog.jsonb_typeof(e.value) = 'string'
                        then pg_catalog.to_jsonb('***'::text)
                    else private.mask_webhook_json(
                        e.value,
                        mask_webhook_json.mask_all
                        or pg_catalog.lower(e.key) in (
                            'profile', 'contacts', 'sender', 'recipient', 'billing_data', 'shipping_data', 'customer'
                        )
                        or (
                            pg_catalog.jsonb_typeof(e.value) = 'string'
                            and (
                                e.key ~ '^(From|To|Caller|Called)([A-Z]|$)'
                                or pg_catalog.lower(pg_catalog.regexp_replace(e.key, '[^A-Za-z]', '', 'g')) in (
                                    'from', 'to', 'caller', 'called', 'body', 'text', 'caption', 'name',
                                    'firstname', 'lastname', 'fullname', 'email', 'phone', 'phonenumber', 'waid',
                                    'address', 'street', 'building', 'floor', 'apartment', 'city', 'postalcode',
                                    'forwardedfrom'
                                )
                            )
                        )
                    )
                end
            ), '{}'::jsonb)
            into v_out
            from pg_catalog.jsonb_each(doc) as e;
            return v_out;
        when 'array' then
            select coalesce(pg_catalog.jsonb_agg(private.mask_webhook_json(a.value, mask_webhook_json.mask_all)
                order by a.ord), '[]'::jsonb)
            into v_out
            from pg_catalog.jsonb_array_elements(doc) with ordinality as a (value, ord);
            return v_out;
        when 'string' then
            if mask_webhook_json.mask_all
                or (doc #>> '{}') ~ '^\+?[0-9][0-9 ().-]{6,}$'
                or (doc #>> '{}') ~ '^(whatsapp:|sms:|tel:)?\+[0-9]'
                or (doc #>> '{}') ~ '[^@\s]+@[^@\s]+\.[^@\s]+' then
                return pg_catalog.to_jsonb(private.mask_pii(doc #>> '{}'));
            end if;
            return doc;
        else
            return doc;
    end case;
end
$$;

comment on function private.mask_webhook_json(jsonb, boolean) is
'A webhook payload or headers with PII masked (names, numbers, addresses, bodies) and credentials hidden.';
revoke all on function private.mask_webhook_json(jsonb, boolean) from public;
grant execute on function private.mask_webhook_json(jsonb, boolean) to authenticated, service_role;
