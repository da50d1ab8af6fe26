-- private.process_twilio_sms: an inbound Twilio SMS or an outbound message's
-- status callback becomes an sms_events row (one per MessageSid and status).
--
-- Billing: sms usage, one per segment, once per message, keyed by its SID
-- (twilio_sms:<MessageSid>). An inbound message is billed when received; an
-- outbound one on its first status that proves it was sent: sent, delivered,
-- undelivered or read, whichever arrives first, so a message whose sent
-- callback never comes is still billed, and later statuses bill nothing. Two
-- statuses of one message processed at once record it once (record_usage's
-- idempotency key). Usage keyed by the message's sent event (sms_events:<id>)
-- counts as billed too. Other statuses (queued, sending, failed, ...) are kept
-- without charging.
--
-- The agent is the one on our side: To for inbound messages, From for status
-- callbacks of messages we sent.
create or replace function private.process_twilio_sms(webhook_id bigint, payload jsonb, count_unknown boolean)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_status text := coalesce(
        process_twilio_sms.payload ->> 'SmsStatus', process_twilio_sms.payload ->> 'MessageStatus'
    );
    v_inbound boolean;
    v_receiver text;
    v_target record;
    v_segments integer;
    v_sid text := coalesce(process_twilio_sms.payload ->> 'MessageSid', process_twilio_sms.payload ->> 'SmsSid');
    v_key text;
    v_event_id uuid;
    v_usage jsonb;
begin
    v_inbound := v_status in ('received', 'receiving');
    v_receiver := case
        when v_inbound then process_twilio_sms.payload ->> 'To'
        else process_twilio_sms.payload ->> 'From'
    end;
    v_target := private.resolve_agent_number(v_receiver, 'sms');
    if v_target.agent_id is null then
        perform private.note_unknown_phone(
            'twilio', 'sms', v_receiver, process_twilio_sms.webhook_id, process_twilio_sms.count_unknown
        );
        return pg_catalog.jsonb_build_object('status', 'unknown_phone', 'phone_number', v_receiver);
    end if;
    if v_target.skip_reason is not null then
        return pg_catalog.jsonb_build_object(
            'status', 'processed', 'skip_reason', v_target.skip_reason, 'workspace_id', v_target.workspace_id
        );
    end if;

    v_segments := coalesce(nullif(process_twilio_sms.payload ->> 'NumSegments', '')::integer, 1);
    insert into public.sms_events (
        workspace_id, agent_id, channel_id, webhook_id, provider, message_sid, sms_status, direction,
        from_number, to_number, body, num_segments, num_media
    )
    values (
        v_target.workspace_id, v_target.agent_id, v_target.channel_id, process_twilio_sms.webhook_id, 'twilio',
        v_sid,
        v_status,
        case when v_inbound then 'inbound' else 'outbound' end,
        process_twilio_sms.payload ->> 'From',
        process_twilio_sms.payload ->> 'To',
        process_twilio_sms.payload ->> 'Body',
        v_segments,
        nullif(process_twilio_sms.payload ->> 'NumMedia', '')::integer
    )
    on conflict on constraint sms_events_status_once do nothing
    returning id into v_event_id;

    if v_event_id is not null and v_segments > 0
        and v_status in ('received', 'sent', 'delivered', 'undelivered', 'read') then
        v_key := 'twilio_sms:' || v_sid;
        if exists (
            select from public.usage_events as e
            where e.workspace_id = v_target.workspace_id and e.idempotency_key = v_key
        ) or (
            v_status in ('delivered', 'undelivered', 'read') and exists (
                select
                from public.sms_events as s
                inner join public.usage_events as e
                    on e.workspace_id = s.workspace_id and e.idempotency_key = 'sms_events:' || s.id
                where s.provider = 'twilio' and s.message_sid = v_sid and s.sms_status = 'sent'
            )
        ) then
            v_usage := pg_catalog.jsonb_build_object('duplicate', true, 'billed_before', true);
        else
            v_usage := private.webhooks_record_usage(v_target.workspace_id, 'sms', v_segments, v_key, 'twilio');
        end if;
    end if;
    return pg_catalog.jsonb_build_object(
        'status', 'processed', 'workspace_id', v_target.workspace_id, 'sms_event_id', v_event_id, 'usage', v_usage
    );
end
$$;

comment on function private.process_twilio_sms(bigint, jsonb, boolean) is
'Normalize a Twilio SMS (inbound or status callback) into sms_events; bill each message once by its SID, '
'on receipt or on its first status proving it was sent.';
revoke all on function private.process_twilio_sms(bigint, jsonb, boolean) from public;
