-- public.set_connector_active: the connector kill switch, with a reason.
--
--   select public.set_connector_active(connector_id => '<uuid>', is_active => false, reason => 'CRM sync loop');
--   -> {"connector_id": ..., "workspace_id": ..., "is_active": false, "previous": true, "changed": true}
--
-- As public.set_channel_active (see there): the reason goes into the activation
-- trigger's audit_logs row; workspace owners/admins and platform admins (RLS);
-- 42501 not_allowed, 22023 reason_required, PT404 connector_not_found.

create or replace function public.set_connector_active(connector_id uuid, is_active boolean, reason text)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    v_workspace uuid;
    v_previous boolean;
begin
    if (select auth.uid()) is null then
        raise exception using
            errcode = '42501', message = 'not_allowed', detail = 'the connector kill switch needs a signed-in user',
            hint = 'Workspace owners/admins and platform admins flip it.';
    end if;
    if set_connector_active.is_active is null or coalesce(pg_catalog.btrim(set_connector_active.reason), '') = '' then
        raise exception using
            errcode = '22023', message = 'reason_required',
            detail = pg_catalog.format(
                'connector %s: is_active and a reason are required', set_connector_active.connector_id
            ),
            hint = 'Say why, for example the incident or ticket id; it is recorded in audit_logs.';
    end if;
    select c.workspace_id, c.is_active into v_workspace, v_previous
    from public.connectors as c
    where c.id = set_connector_active.connector_id
    for update;
    if not found then
        raise exception using
            errcode = 'PT404', message = 'connector_not_found',
            detail = pg_catalog.format('no connector %s that caller %s may change',
                set_connector_active.connector_id, (select auth.uid())),
            hint = 'Only the workspace''s owners/admins and platform admins flip a connector.';
    end if;
    if v_previous <> set_connector_active.is_active then
        perform pg_catalog.set_config('opsdb.activation_reason', set_connector_active.reason, true);
        update public.connectors as c
        set is_active = set_connector_active.is_active
        where c.id = set_connector_active.connector_id;
        perform pg_catalog.set_config('opsdb.activation_reason', '', true);
    end if;
    return pg_catalog.jsonb_build_object(
        'connector_id', set_connector_active.connector_id,
        'workspace_id', v_workspace,
        'is_active', set_connector_active.is_active,
        'previous', v_previous,
        'changed', v_previous <> set_connector_active.is_active
    );
end
$$;

comment on function public.set_connector_active(uuid, boolean, text) is
'Connector kill switch with a reason (workspace owners/admins, platform admins); audited.';
revoke all on function public.set_connector_active(uuid, boolean, text) from public;
grant execute on function public.set_connector_active(uuid, boolean, text) to authenticated;
