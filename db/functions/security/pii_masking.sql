-- PII masking for platform staff.
--
-- Message bodies and contact addresses are readable in full by the members of
-- their workspace only (RLS on messages, conversations and sms_events). Platform
-- admins and support read them masked through three views:
--
--   select * from public.messages_masked where workspace_id = '<uuid>';
--   select * from public.conversations_masked where workspace_id = '<uuid>';
--   select * from public.sms_events_masked where workspace_id = '<uuid>';
--
-- The views are security_invoker; they read through definer functions that
-- return rows only to platform staff (user_roles admin or support) and
-- service_role, masked by private.mask_pii. Anyone else gets no rows.

create or replace function private.mask_pii(value text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
    -- Keep the first character of every word and the shape of the text (length,
    -- spacing); every other character becomes *. Works for any script, since
    -- it masks by non-whitespace rather than by a locale's idea of a letter.
    select pg_catalog.regexp_replace(mask_pii.value, '(?<=\S)\S', '*', 'g')
$$;

comment on function private.mask_pii(text) is
'Masks text for staff views: the first character of each word stays, every other non-space becomes *.';
revoke all on function private.mask_pii(text) from public;
grant execute on function private.mask_pii(text) to authenticated, service_role;

create or replace function private.messages_masked()
returns table (
    id uuid,
    workspace_id uuid,
    conversation_id uuid,
    direction text,
    sender text,
    body text,
    provider text,
    provider_message_id text,
    sent_at timestamptz,
    created_at timestamptz
)
language sql
stable
security definer
set search_path = ''
as $$
    select
        m.id,
        m.workspace_id,
        m.conversation_id,
        m.direction,
        private.mask_pii(m.sender),
        private.mask_pii(m.body),
        m.provider,
        m.provider_message_id,
        m.sent_at,
        m.created_at
    from public.messages as m
    where (select private.is_support() or private.is_service_role())
$$;

comment on function private.messages_masked() is
'Rows of public.messages_masked: every message with sender and body masked, for platform staff only.';
revoke all on function private.messages_masked() from public;
grant execute on function private.messages_masked() to authenticated, service_role;

create or replace function private.conversations_masked()
returns table (
    id uuid,
    workspace_id uuid,
    agent_id uuid,
    channel_id uuid,
    channel_type text,
    external_thread_id text,
    contact_address text,
    status text,
    started_at timestamptz,
    last_message_at timestamptz
)
language sql
stable
security definer
set search_path = ''
as $$
    select
        c.id,
        c.workspace_id,
        c.agent_id,
        c.channel_id,
        c.channel_type,
        private.mask_pii(c.external_thread_id),
        private.mask_pii(c.contact_address),
        c.status,
        c.started_at,
        c.last_message_at
    from public.conversations as c
    where (select private.is_support() or private.is_service_role())
$$;

comment on function private.conversations_masked() is
'Rows of public.conversations_masked: every conversation with contact details masked, for platform staff only.';
revoke all on function private.conversations_masked() from public;
grant execute on function private.conversations_masked() to authenticated, service_role;

create or replace function private.sms_events_masked()
returns table (
    id uuid,
    workspace_id uuid,
    agent_id uuid,
    channel_id uuid,
    webhook_id bigint,
    provider text,
    message_sid text,
    sms_status text,
    direction public.sms_direction,
    from_number text,
    to_number text,
    body text,
    num_segments public.event_count,
    num_media public.event_count,
    occurred_at timestamptz,
    created_at timestamptz
)
language sql
stable
security definer
set search_path = ''
as $$
    select
        s.id,
        s.workspace_id,
        s.agent_id,
        s.channel_id,
        s.webhook_id,
        s.provider,
        s.message_sid,
        s.sms_status,
        s.direction,
        private.mask_pii(s.from_number),
        private.mask_pii(s.to_number),
        private.mask_pii(s.body),
        s.num_segments,
        s.num_media,
        s.occurred_at,
        s.created_at
    from public.sms_events as s
    where (select private.is_support() or private.is_service_role())
$$;

comment on function private.sms_events_masked() is
'Rows of public.sms_events_masked: every SMS event with body and numbers masked, for platform staff only.';
revoke all on function private.sms_events_masked() from public;
grant execute on function private.sms_events_masked() to authenticated, service_role;

create or replace view public.messages_masked with (security_invoker = true) as
select
    id,
    workspace_id,
    conversation_id,
    direction,
    sender,
    body,
    provider,
    provider_message_id,
    sent_at,
    created_at
from private.messages_masked();

comment on view public.messages_masked is
'Messages for platform admins and support, with sender and body masked (members read public.messages).';

create or replace view public.conversations_masked with (security_invoker = true) as
select
    id,
    workspace_id,
    agent_id,
    channel_id,
    channel_type,
    external_thread_id,
    contact_address,
    status,
    started_at,
    last_message_at
from private.conversations_masked();

comment on view public.conversations_masked is
'Conversations for platform admins and support, with the contact''s address and thread id masked.';

create or replace view public.sms_events_masked with (security_invoker = true) as
select
    id,
    workspace_id,
    agent_id,
    channel_id,
    webhook_id,
    provider,
    message_sid,
    sms_status,
    direction,
    from_number,
    to_number,
    body,
    num_segments,
    num_media,
    occurred_at,
    created_at
from private.sms_events_masked();

comment on view public.sms_events_masked is
'SMS events for platform admins and support, with body and phone numbers masked (members read public.sms_events).';

revoke all on public.messages_masked, public.conversations_masked, public.sms_events_masked
from anon, authenticated, service_role;
grant select on public.messages_masked, public.conversations_masked, public.sms_events_masked
to authenticated, service_role;
