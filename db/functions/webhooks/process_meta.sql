-- private.process_meta: WhatsApp Cloud API and Messenger webhooks become
-- conversations and messages.
--
-- A delivery batches entries; each entry names the receiving channel (WhatsApp:
-- changes[].value.metadata.phone_number_id; Messenger: the page id), resolved
-- through agent_channels.external_id. Entries whose channel matches nothing go
-- to unknown_phone; a disabled channel or a suspended workspace stores nothing.
-- Status receipts, reads and other non-message events are accepted as is.
-- The delivery is unknown_phone when it carried messages and none of them had a
-- known channel; otherwise processed (with the skip reason when all were skipped).
create or replace function private.process_meta(
    webhook_id bigint,
    event_type text,
    payload jsonb,
    count_unknown boolean
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_channel_type text := case process_meta.event_type
        when 'meta.whatsapp' then 'whatsapp'
        when 'meta.messenger' then 'messenger'
    end;
    v_unit record;
    v_target record;
    v_message jsonb;
    v_type text;
    v_echo boolean;
    v_thread text;
    v_stored integer := 0;
    v_known integer := 0;
    v_unknown integer := 0;
    v_skips text[] := '{}'::text[];
    v_workspace_id uuid;
begin
    if v_channel_type is null then
        return pg_catalog.jsonb_build_object('status', 'processed', 'skip_reason', 'unsupported_object');
    end if;

    -- One unit per receiving channel and batch of messages.
    for v_unit in
        select
            case when v_channel_type = 'whatsapp' then ch.value #>> '{value,metadata,phone_number_id}'
            else e.value ->> 'id' end as external_id,
            case when v_channel_type = 'whatsapp' then ch.value #> '{value,messages}'
            else (
                select pg_catalog.jsonb_agg(m.value)
                from pg_catalog.jsonb_array_elements(e.value -> 'messaging') as m
                where m.value ? 'message'
            ) end as messages
        from pg_catalog.jsonb_array_elements(process_meta.payload -> 'entry') as e
        left join lateral pg_catalog.jsonb_array_elements(
            case when v_channel_type = 'whatsapp' then e.value -> 'changes' else '[{}]'::jsonb end
        ) as ch on true
    loop
        continue when pg_catalog.jsonb_typeof(v_unit.messages) is distinct from 'array'
            or pg_catalog.jsonb_array_length(v_unit.messages) = 0;
        v_target := private.resolve_channel(v_channel_type, v_unit.external_id);
        if v_target.channel_id is null then
            v_unknown := v_unknown + 1;
            perform private.note_unknown_phone(
                'meta', v_channel_type, coalesce(v_unit.external_id, ''), process_meta.webhook_id,
                process_meta.count_unknown
            );
            continue;
        end if;
        v_known := v_known + 1;
        v_workspace_id := v_target.workspace_id;
        if v_target.skip_reason is not null then
            v_skips := v_skips || v_target.skip_reason;
            continue;
        end if;

        for v_message in select m.value from pg_catalog.jsonb_array_elements(v_unit.messages) as m loop
            if v_channel_type = 'whatsapp' then
                v_type := v_message ->> 'type';
                if private.store_chat_message(
                    v_target.workspace_id, v_target.agent_id, v_target.channel_id, 'whatsapp',
                    v_message ->> 'from', '+' || (v_message ->> 'from'), 'inbound', v_message ->> 'from',
                    coalesce(
                        v_message #>> '{text,body}',
                        v_message -> v_type ->> 'caption',
                        v_message #>> '{button,text}',
                        v_message #>> '{interactive,button_reply,title}',
                        v_message #>> '{interactive,list_reply,title}'
                    ),
                    v_message ->> 'id',
                    pg_catalog.jsonb_build_object('type', v_type, 'webhook_id', process_meta.webhook_id)
                    || case when v_type <> 'text' and v_message ? v_type
                        then pg_catalog.jsonb_build_object('content', v_message -> v_type) else '{}' end,
                    pg_catalog.to_timestamp((v_message ->> 'timestamp')::double precision)
                ) is not null then
                    v_stored := v_stored + 1;
                end if;
            else
                v_echo := coalesce((v_message #>> '{message,is_echo}')::boolean, false);
                v_thread := case when v_echo then v_message #>> '{recipient,id}' else v_message #>> '{sender,id}' end;
                if private.store_chat_message(
                    v_target.workspace_id, v_target.agent_id, v_target.channel_id, 'messenger',
                    v_thread, null, case when v_echo then 'outbound' else 'inbound' end,
                    v_message #>> '{sender,id}',
                    v_message #>> '{message,text}',
                    v_message #>> '{message,mid}',
                    pg_catalog.jsonb_build_object('webhook_id', process_meta.webhook_id)
                    || case when v_message #> '{message,attachments}' is not null
                        then pg_catalog.jsonb_build_object('attachments', v_message #> '{message,attachments}')
                        else '{}' end,
                    pg_catalog.to_timestamp((v_message ->> 'timestamp')::double precision / 1000)
                ) is not null then
                    v_stored := v_stored + 1;
                end if;
            end if;
        end loop;
    end loop;

    if v_unknown > 0 and v_known = 0 then
        return pg_catalog.jsonb_build_object('status', 'unknown_phone', 'unknown_channels', v_unknown);
    end if;
    return pg_catalog.jsonb_build_object(
        'status', 'processed',
        'workspace_id', v_workspace_id,
        'messages_stored', v_stored,
        'unknown_channels', v_unknown,
        'skip_reason', case
            when v_known > 0 and pg_catalog.cardinality(v_skips) = v_known then v_skips[1]
        end
    );
end
$$;

comment on function private.process_meta(bigint, text, jsonb, boolean) is
'Normalize WhatsApp Cloud API / Messenger webhooks into conversations and messages, by receiving channel.';
revoke all on function private.process_meta(bigint, text, jsonb, boolean) from public;
