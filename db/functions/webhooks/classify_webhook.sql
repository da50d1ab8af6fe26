-- private.classify_webhook: what a delivery is, its idempotency key, and which
-- required fields it lacks (null when none).
--
-- Keys come from the provider's own ids, so a redelivery maps to the same key:
--   twilio   call:<CallSid>:<CallStatus>, sms:<MessageSid>:<SmsStatus|MessageStatus>
--   meta     wa:<message ids and status ids>, mid:<Messenger message ids>
--   paymob   txn:<transaction id>:<state> (pending, success, failed, voided, refunded)
--   standard msg:<webhook-id header>
-- and otherwise sha256:<hex of the canonical payload> (jsonb text is canonical:
-- key order and whitespace do not change it). Over-long keys are hashed too.
-- headers must have lower-case keys.
create or replace function private.classify_webhook(
    provider text,
    payload jsonb,
    headers jsonb,
    out event_type text,
    out idempotency_key text,
    out missing_fields text
)
language plpgsql
immutable
set search_path = ''
as $$
declare
    v_payload jsonb := classify_webhook.payload;
    v_sid text;
    v_status text;
    v_ids text;
    v_obj jsonb;
begin
    case classify_webhook.provider
        when 'twilio' then
            if v_payload ? 'CallSid' then
                event_type := 'twilio.voice_status';
                v_sid := v_payload ->> 'CallSid';
                v_status := v_payload ->> 'CallStatus';
                idempotency_key := 'call:' || v_sid || ':' || v_status;
            else
                event_type := 'twilio.sms';
                v_sid := coalesce(v_payload ->> 'MessageSid', v_payload ->> 'SmsSid');
                v_status := coalesce(v_payload ->> 'SmsStatus', v_payload ->> 'MessageStatus');
                idempotency_key := 'sms:' || v_sid || ':' || v_status;
            end if;
            -- An expression, not a query over unnest: no executor start-up on every delivery.
            missing_fields := nullif(pg_catalog.concat_ws(', ',
                case when coalesce(v_sid, '') = '' then
                    case when event_type = 'twilio.sms' then 'MessageSid' else 'CallSid' end
                end,
                case when coalesce(v_status, '') = '' then
                    case when event_type = 'twilio.sms' then 'SmsStatus' else 'CallStatus' end
                end,
                case when coalesce(v_payload ->> 'To', '') = '' then 'To' end,
                case when coalesce(v_payload ->> 'From', '') = '' then 'From' end
            ), '');
        when 'meta' then
            event_type := case v_payload ->> 'object'
                when 'whatsapp_business_account' then 'meta.whatsapp'
                when 'page' then 'meta.messenger'
                else 'meta.' || coalesce(v_payload ->> 'object', 'unknown')
            end;
            if coalesce(v_payload ->> 'object', '') = '' then
                missing_fields := 'object';
            elsif pg_catalog.jsonb_typeof(v_payload -> 'entry') is distinct from 'array'
                or pg_catalog.jsonb_array_length(v_payload -> 'entry') = 0 then
                missing_fields := 'entry';
            end if;
            if event_type = 'meta.whatsapp' then
                select pg_catalog.string_agg(i, ',' order by i collate "C")
                into v_ids
                from (
                    select pg_catalog.jsonb_path_query(v_payload, '$.entry[*].changes[*].value.messages[*].id') #>> '{}'
                    union all
                    select (s ->> 'id') || ':' || (s ->> 'status')
                    from pg_catalog.jsonb_path_query(v_payload, '$.entry[*].changes[*].value.statuses[*]') as s
                ) as x (i);
                idempotency_key := 'wa:' || v_ids;
            elsif event_type = 'meta.messenger' then
                select pg_catalog.string_agg(i #>> '{}', ',' order by i #>> '{}' collate "C")
                into v_ids
                from pg_catalog.jsonb_path_query(v_payload, '$.entry[*].messaging[*].message.mid') as i;
                idempotency_key := 'mid:' || v_ids;
            end if;
        when 'paymob' then
            v_obj := v_payload -> 'obj';
            event_type := 'paymob.' || pg_catalog.lower(coalesce(v_payload ->> 'type', 'unknown'));
            if pg_catalog.jsonb_typeof(v_obj) is distinct from 'object' then
                missing_fields := 'obj';
            elsif coalesce(v_obj ->> 'id', '') = '' then
                missing_fields := 'obj.id';
            else
                idempotency_key := 'txn:' || (v_obj ->> 'id') || ':' || case
                    when v_obj ->> 'is_refunded' = 'true' then 'refunded'
                    when v_obj ->> 'is_voided' = 'true' then 'voided'
                    when v_obj ->> 'pending' = 'true' then 'pending'
                    when v_obj ->> 'success' = 'true' then 'success'
                    else 'failed'
                end;
            end if;
        when 'standard' then
            event_type := 'standard.' || coalesce(v_payload ->> 'type', 'unknown');
            if coalesce(v_payload ->> 'type', '') = '' then
                missing_fields := 'type';
            end if;
            idempotency_key := 'msg:' || (classify_webhook.headers ->> 'webhook-id');
    end case;

    if idempotency_key is null then
        idempotency_key := 'sha256:' || pg_catalog.encode(
            extensions.digest(pg_catalog.convert_to(v_payload::text, 'UTF8'), 'sha256'), 'hex'
        );
    elsif pg_catalog.length(idempotency_key) > 200 then
        idempotency_key := pg_catalog.split_part(idempotency_key, ':', 1) || ':sha256:' || pg_catalog.encode(
            extensions.digest(pg_catalog.convert_to(idempotency_key, 'UTF8'), 'sha256'), 'hex'
        );
    end if;
end
$$;

comment on function private.classify_webhook(text, jsonb, jsonb) is
'Event type, idempotency key (provider ids, else a payload hash) and missing required fields of a delivery.';
revoke all on function private.classify_webhook(text, jsonb, jsonb) from public;
