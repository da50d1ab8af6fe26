-- Channel and connector activation are kill switches (the playbook's
-- `set is_active = false`): each flip leaves one audit_logs row.

create or replace function private.tg_agent_channels__audit_activation()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform private.audit(
        case when new.is_active then 'channel.activated' else 'channel.deactivated' end,
        'agent_channels',
        new.id::text,
        new.workspace_id,
        pg_catalog.jsonb_build_object('is_active', old.is_active),
        pg_catalog.jsonb_build_object('is_active', new.is_active)
    );
    return null;
end
$$;

comment on function private.tg_agent_channels__audit_activation() is
'AFTER UPDATE OF is_active on agent_channels: audits the channel kill switch.';
revoke all on function private.tg_agent_channels__audit_activation() from public;

create or replace trigger tg_agent_channels__audit_activation
after update of is_active on public.agent_channels
for each row when (new.is_active is distinct from old.is_active)
execute function private.tg_agent_channels__audit_activation();

create or replace function private.tg_connectors__audit_activation()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform private.audit(
        case when new.is_active then 'connector.activated' else 'connector.deactivated' end,
        'connectors',
        new.id::text,
        new.workspace_id,
        pg_catalog.jsonb_build_object('is_active', old.is_active),
        pg_catalog.jsonb_build_object('is_active', new.is_active)
    );
    return null;
end
$$;

comment on function private.tg_connectors__audit_activation() is
'AFTER UPDATE OF is_active on connectors: audits the connector (ingestion) kill switch.';
revoke all on function private.tg_connectors__audit_activation() from public;

create or replace trigger tg_connectors__audit_activation
after update of is_active on public.connectors
for each row when (new.is_active is distinct from old.is_active)
execute function private.tg_connectors__audit_activation();
