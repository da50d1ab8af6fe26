-- public.set_channel_active: the channel kill switch, with a reason
-- (public.set_connector_active is its twin for connectors).
--
--   select public.set_channel_active(channel_id => '<uuid>', is_active => false, reason => 'spam flood, INC-42');
--   -> {"channel_id": ..., "workspace_id": ..., "is_active": false, "previous": true, "changed": true}
--   select public.set_connector_active(connector_id => '<uuid>', is_active => false, reason => 'CRM sync loop');
--   -> {"connector_id": ..., "workspace_id": ..., "is_active": false, "previous": true, "changed": true}
--
-- The playbook's plain UPDATE of is_active does the same; these carry the reason
-- into the one audit_logs row the activation trigger writes (through the
-- transaction-local setting opsdb.activation_reason). Who: the workspace's
-- owners/admins and platform admins, the same callers the update policy lets
-- through (SECURITY INVOKER: RLS decides). Errors: 42501 not_allowed without a
-- signed-in user; 22023 reason_required; PT404 channel_not_found /
-- connector_not_found, alike for a row the caller may not change, so its
-- existence is not disclosed. Takes effect at once: the next delivery for a
-- disabled channel is stored and marked, and nothing downstream runs.

create or replace function public.set_channel_active(channel_id uuid, is_active boolean, reason text)
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
            errcode = '42501', message = 'not_allowed', detail = 'the channel kill switch needs a signed-in user',
            hint = 'Workspace owners/admins and platform admins flip it.';
    end if;
    if set_channel_active.is_active is null or coalesce(pg_catalog.btrim(set_channel_active.reason), '') = '' then
        raise exception using
            errcode = '22023', message = 'reason_required',
            detail = pg_catalog.format('channel %s: is_active and a reason are required', set_channel_active.channel_id),
            hint = 'Say why, for example the incident or ticket id; it is recorded in audit_logs.';
    end if;
    -- FOR UPDATE needs the update policy too, so a row the caller may not change is not found.
    select c.workspace_id, c.is_active into v_workspace, v_previous
    from public.agent_channels as c
    where c.id = set_channel_active.channel_id
    for update;
    if not found then
        raise exception using
            errcode = 'PT404', message = 'channel_not_found',
            detail = pg_catalog.format('no channel %s that caller %s may change',
                set_channel_active.channel_id, (select auth.uid())),
            hint = 'Only the workspace''s owners/admins and platform admins flip a channel.';
    end if;
    if v_previous <> set_channel_active.is_active then
        perform pg_catalog.set_config('opsdb.activation_reason', set_channel_active.reason, true);
        update public.agent_channels as c
        set is_active = set_channel_active.is_active
        where c.id = set_channel_active.channel_id;
        perform pg_catalog.set_config('opsdb.activation_reason', '', true);
    end if;
    return pg_catalog.jsonb_build_object(
        'channel_id', set_channel_active.channel_id,
        'workspace_id', v_workspace,
        'is_active', set_channel_active.is_active,
        'previous', v_previous,
        'changed', v_previous <> set_channel_active.is_active
    );
end
$$;

comment on function public.set_channel_active(uuid, boolean, text) is
'Channel kill switch with a reason (workspace owners/admins, platform admins); audited.';
revoke all on function public.set_channel_active(uuid, boolean, text) from public;
grant execute on function public.set_channel_active(uuid, boolean, text) to authenticated;
