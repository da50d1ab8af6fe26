-- private._process_twilio_sms: an inbound Twilio SMS or an outbound message's
-- status callback becomes an sms_events row. A received message and a sent one
-- record sms usage (one per segment), keyed by the event's id; other statuses
-- (queued, delivered, failed, ...) are kept without charging again.
--
-- The agent is the one on our side: To for inbound messages, From for status
-- callbacks of messages we sent. One event per (MessageSid, status).
create or replace function private._process_twilio_sms(webhook_id bigint, payload jsonb, count_unknown boolean)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_status text := coalesce(
        _process_twilio_sms.payload ->> 'SmsStatus', _process_twilio_sms.payload ->> 'MessageStatus'
    );
    v_inbound boolean;
    v_receiver text;
    v_target record;
    v_segments integer;
    v_event_id uuid;
    v_usage jsonb;
begin
    v_inbound := v_status in ('received', 'receiving');
    v_receiver := case
        when v_inbound then _process_twilio_sms.payload ->> 'To'
        else _process_twilio_sms.payload ->> 'From'
    end;
    v_target := private._resolve_agent_number(v_receiver, 'sms');
    if v_target.agent_id is null then
        perform private._note_unknown_phone(
            'twilio', 'sms', v_receiver, _process_twilio_sms.webhook_id, _process_twilio_sms.count_unknown
        );
        return pg_catalog.jsonb_build_object('status', 'unknown_phone', 'phone_number', v_receiver);
    end if;
    if v_target.skip_reason is not null then
        return pg_catalog.jsonb_build_object(
            'status', 'processed', 'skip_reason', v_target.skip_reason, 'workspace_id', v_target.workspace_id
        );
    end if;

    v_segments := coalesce(nullif(_process_twilio_sms.payload ->> 'NumSegments', '')::integer, 1);
    insert into public.sms_events (
        workspace_id, agent_id, channel_id, webhook_id, provider, message_sid, sms_status, direction,
        from_number, to_number, body, num_segments, num_media
    )
    values (
        v_target.workspace_id, v_target.agent_id, v_target.channel_id, _process_twilio_sms.webhook_id, 'twilio',
        coalesce(_process_twilio_sms.payload ->> 'MessageSid', _process_twilio_sms.payload ->> 'SmsSid'),
        v_status,
        case when v_inbound then 'inbound' else 'outbound' end,
        _process_twilio_sms.payload ->> 'From',
        _process_twilio_sms.payload ->> 'To',
        _process_twilio_sms.payload ->> 'Body',
        v_segments,
        nullif(_process_twilio_sms.payload ->> 'NumMedia', '')::integer
    )
    on conflict on constraint sms_events_status_once do nothing
    returning id into v_event_id;

    if v_event_id is not null and v_status in ('received', 'sent') and v_segments > 0 then
        v_usage := private._webhooks_record_usage(
            v_target.workspace_id, 'sms', v_segments, 'sms_events:' || v_event_id, 'twilio'
        );
    end if;
    return pg_catalog.jsonb_build_object(
        'status', 'processed', 'workspace_id', v_target.workspace_id, 'sms_event_id', v_event_id, 'usage', v_usage
    );
end
$$;

comment on function private._process_twilio_sms(bigint, jsonb, boolean) is
'Normalize a Twilio SMS (inbound or status callback) into sms_events; received and sent messages record sms usage.';
revoke all on function private._process_twilio_sms(bigint, jsonb, boolean) from public;
