-- Resolving where a delivery belongs: the agent, its workspace and the channel.
--
-- plpgsql, not sql: the query plan is cached per connection (a sql function
-- with a pinned search_path is re-planned on every call).
-- Both return all nulls when nothing active matches (the caller records
-- unknown_phone), and a skip_reason when the target exists but must not act:
-- workspace suspended/disabled (the kill switch), channel or agent switched off.

-- By receiving number (Twilio voice and SMS): the one active agent on it.
create or replace function private.resolve_agent_number(
    phone_number text,
    channel_type text,
    out agent_id uuid,
    out workspace_id uuid,
    out channel_id uuid,
    out skip_reason text
)
language plpgsql
stable
set search_path = ''
as $$
begin
    select
        a.id,
        a.workspace_id,
        ch.id,
        case
            when w.status <> 'active' then 'workspace_' || w.status
            when ch.is_active is false then 'channel_disabled'
        end
    into resolve_agent_number.agent_id, resolve_agent_number.workspace_id,
        resolve_agent_number.channel_id, resolve_agent_number.skip_reason
    from public.agents as a
    inner join public.workspaces as w on a.workspace_id = w.id
    left join lateral (
        select c.id, c.is_active
        from public.agent_channels as c
        where c.agent_id = a.id and c.channel_type = resolve_agent_number.channel_type
        order by c.is_active desc, c.created_at
        limit 1
    ) as ch on true
    where a.phone_number = resolve_agent_number.phone_number and a.is_active;
end
$$;

comment on function private.resolve_agent_number(text, text) is
'The active agent on a receiving number, its workspace and channel, and why it must not act (if so).';
revoke all on function private.resolve_agent_number(text, text) from public;

-- By channel id (WhatsApp phone_number_id, Messenger page id).
create or replace function private.resolve_channel(
    channel_type text,
    external_id text,
    out agent_id uuid,
    out workspace_id uuid,
    out channel_id uuid,
    out skip_reason text
)
language plpgsql
stable
set search_path = ''
as $$
begin
    select
        c.agent_id,
        c.workspace_id,
        c.id,
        case
            when w.status <> 'active' then 'workspace_' || w.status
            when not c.is_active then 'channel_disabled'
            when not a.is_active then 'agent_inactive'
        end
    into resolve_channel.agent_id, resolve_channel.workspace_id,
        resolve_channel.channel_id, resolve_channel.skip_reason
    from public.agent_channels as c
    inner join public.workspaces as w on c.workspace_id = w.id
    inner join public.agents as a on c.agent_id = a.id
    where c.channel_type = resolve_channel.channel_type and c.external_id = resolve_channel.external_id;
end
$$;

comment on function private.resolve_channel(text, text) is
'The channel with this provider id, its agent and workspace, and why it must not act (if so).';
revoke all on function private.resolve_channel(text, text) from public;
