-- private.process_twilio_call: a Twilio voice status callback becomes a
-- call_events row; a completed call records its billable minutes (rounded up,
-- as Twilio bills) as call_minutes usage, keyed by the event's id.
--
-- The agent is the one on our side of the call: To for inbound calls, From for
-- outbound ones. One event per (CallSid, CallStatus): processing the same
-- delivery again (replay, retry) writes nothing new and records no usage twice.
create or replace function private.process_twilio_call(webhook_id bigint, payload jsonb, count_unknown boolean)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_status text := process_twilio_call.payload ->> 'CallStatus';
    v_direction text := process_twilio_call.payload ->> 'Direction';
    v_receiver text;
    v_target record;
    v_seconds integer;
    v_minutes integer;
    v_event_id uuid;
    v_usage jsonb;
begin
    v_receiver := case
        when v_direction like 'outbound%' then process_twilio_call.payload ->> 'From'
        else process_twilio_call.payload ->> 'To'
    end;
    v_target := private.resolve_agent_number(v_receiver, 'voice');
    if v_target.agent_id is null then
        perform private.note_unknown_phone(
            'twilio', 'voice', v_receiver, process_twilio_call.webhook_id, process_twilio_call.count_unknown
        );
        return pg_catalog.jsonb_build_object('status', 'unknown_phone', 'phone_number', v_receiver);
    end if;
    if v_target.skip_reason is not null then
        return pg_catalog.jsonb_build_object(
            'status', 'processed', 'skip_reason', v_target.skip_reason, 'workspace_id', v_target.workspace_id
        );
    end if;

    v_seconds := nullif(process_twilio_call.payload ->> 'CallDuration', '')::integer;
    if v_status = 'completed' then
        v_minutes := pg_catalog.ceil(coalesce(v_seconds, 0) / 60.0)::integer;
    end if;
    insert into public.call_events (
        workspace_id, agent_id, channel_id, webhook_id, provider, call_sid, call_status, direction,
        from_number, to_number, duration_seconds, billable_minutes
    )
    values (
        v_target.workspace_id, v_target.agent_id, v_target.channel_id, process_twilio_call.webhook_id, 'twilio',
        process_twilio_call.payload ->> 'CallSid', v_status, v_direction,
        process_twilio_call.payload ->> 'From', process_twilio_call.payload ->> 'To', v_seconds, v_minutes
    )
    on conflict on constraint call_events_status_once do nothing
    returning id into v_event_id;

    if v_event_id is not null and v_minutes > 0 then
        v_usage := private.webhooks_record_usage(
            v_target.workspace_id, 'call_minutes', v_minutes, 'call_events:' || v_event_id, 'twilio'
        );
    end if;
    return pg_catalog.jsonb_build_object(
        'status', 'processed', 'workspace_id', v_target.workspace_id, 'call_event_id', v_event_id, 'usage', v_usage
    );
end
$$;

comment on function private.process_twilio_call(bigint, jsonb, boolean) is
'Normalize a Twilio voice status callback into call_events; completed calls record call_minutes usage.';
revoke all on function private.process_twilio_call(bigint, jsonb, boolean) from public;
