-- Channel and connector activation are kill switches (the playbook's
-- `set is_active = false`): each flip leaves one audit_logs row. One trigger
-- function serves both tables; its argument names the kind in the action
-- (channel.deactivated, connector.activated, ...). The reason comes from
-- set_channel_active / set_connector_active (the transaction-local setting
-- opsdb.activation_reason); a plain UPDATE has none.

create or replace function private.tg_audit_activation()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform private.audit(
        tg_argv[0] || case when new.is_active then '.activated' else '.deactivated' end,
        tg_table_name,
        new.id::text,
        new.workspace_id,
        pg_catalog.jsonb_build_object('is_active', old.is_active),
        pg_catalog.jsonb_build_object('is_active', new.is_active),
        nullif(pg_catalog.current_setting('opsdb.activation_reason', true), '')
    );
    return null;
end
$$;

comment on function private.tg_audit_activation() is
'AFTER UPDATE OF is_active (agent_channels, connectors): audits the kill switch; argument: channel or connector.';
revoke all on function private.tg_audit_activation() from public;

create or replace trigger tg_agent_channels__audit_activation
after update of is_active on public.agent_channels
for each row when (new.is_active is distinct from old.is_active)
execute function private.tg_audit_activation('channel');

create or replace trigger tg_connectors__audit_activation
after update of is_active on public.connectors
for each row when (new.is_active is distinct from old.is_active)
execute function private.tg_audit_activation('connector');
