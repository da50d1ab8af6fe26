-- private.store_chat_message: file one chat message (WhatsApp, Messenger) under
-- its conversation, creating the conversation on the contact's first message.
--
-- Messages are unique by (provider, provider_message_id), so a message stored
-- once is never stored again, whichever delivery or replay carries it. Returns
-- the new message's id, or null when it was already there.
create or replace function private.store_chat_message(
    workspace_id uuid,
    agent_id uuid,
    channel_id uuid,
    channel_type text,
    thread_id text,
    contact_address text,
    direction text,
    sender text,
    body text,
    provider_message_id text,
    metadata jsonb,
    sent_at timestamptz
)
returns uuid
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_conversation_id uuid;
    v_message_id uuid;
begin
    insert into public.conversations as c (
        workspace_id, agent_id, channel_id, channel_type, external_thread_id, contact_address, last_message_at
    )
    values (
        store_chat_message.workspace_id, store_chat_message.agent_id, store_chat_message.channel_id,
        store_chat_message.channel_type, store_chat_message.thread_id, store_chat_message.contact_address,
        store_chat_message.sent_at
    )
    on conflict (workspace_id, channel_type, external_thread_id) do update
    set last_message_at = greatest(c.last_message_at, excluded.last_message_at)
    returning c.id into v_conversation_id;

    insert into public.messages (
        workspace_id, conversation_id, direction, sender, body, provider, provider_message_id, metadata, sent_at
    )
    values (
        store_chat_message.workspace_id, v_conversation_id, store_chat_message.direction,
        store_chat_message.sender, store_chat_message.body, store_chat_message.channel_type,
        store_chat_message.provider_message_id, coalesce(store_chat_message.metadata, '{}'),
        coalesce(store_chat_message.sent_at, pg_catalog.now())
    )
    on conflict (provider, provider_message_id) where provider_message_id is not null do nothing
    returning id into v_message_id;
    return v_message_id;
end
$$;

comment on function private.store_chat_message(
    uuid, uuid, uuid, text, text, text, text, text, text, text, jsonb, timestamptz
) is 'Store one inbound/outbound chat message under its conversation (idempotent by provider message id).';
revoke all on function private.store_chat_message(
    uuid, uuid, uuid, text, text, text, text, text, text, text, jsonb, timestamptz
) from public;
