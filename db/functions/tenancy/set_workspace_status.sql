-- set_workspace_status: the workspace kill switch.
--
--   select public.set_workspace_status('<workspace uuid>', 'suspended', 'chargeback fraud');
--   -> {"workspace_id": ..., "status": "suspended", "previous_status": "active", "changed": true}
--
-- Who: platform admins (authenticated, user_roles admin); 42501 for anyone else.
-- status is active, suspended or disabled (22023 otherwise); a reason is
-- required (22023); PT404 for an unknown workspace. Takes effect at once: a
-- suspended or disabled workspace's API keys fail on their next call. The
-- status trigger writes the one audit row, as it does for the playbook's UPDATE.

create or replace function private._set_workspace_status(workspace_id uuid, status text, reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_previous text;
begin
    if not private.is_admin() then
        raise exception using
            errcode = '42501', message = 'not_allowed',
            detail = pg_catalog.format('caller %s is not a platform admin',
                coalesce((select auth.uid())::text, 'anonymous')),
            hint = 'Only platform admins flip the workspace kill switch.';
    end if;
    if _set_workspace_status.status is null or _set_workspace_status.status not in ('active', 'suspended', 'disabled') then
        raise exception using
            errcode = '22023', message = 'invalid_status',
            detail = pg_catalog.format('status %L is not active, suspended or disabled', _set_workspace_status.status),
            hint = 'Use active, suspended or disabled.';
    end if;
    if coalesce(pg_catalog.btrim(_set_workspace_status.reason), '') = '' then
        raise exception using
            errcode = '22023', message = 'reason_required',
            detail = 'a kill switch needs a reason for the audit log',
            hint = 'Say why, for example the incident or ticket id.';
    end if;
    select w.status into v_previous
    from public.workspaces as w
    where w.id = _set_workspace_status.workspace_id
    for update;
    if not found then
        raise exception using
            errcode = 'PT404', message = 'workspace_not_found',
            detail = pg_catalog.format('no workspace %s', _set_workspace_status.workspace_id),
            hint = 'Check the workspace id.';
    end if;
    if v_previous <> _set_workspace_status.status then
        -- The status trigger takes the reason from here, even when it repeats the old one.
        perform pg_catalog.set_config('opsdb.status_reason', _set_workspace_status.reason, true);
        update public.workspaces as w
        set status = _set_workspace_status.status, status_reason = _set_workspace_status.reason
        where w.id = _set_workspace_status.workspace_id;
        perform pg_catalog.set_config('opsdb.status_reason', '', true);
    end if;
    return pg_catalog.jsonb_build_object(
        'workspace_id', _set_workspace_status.workspace_id,
        'status', _set_workspace_status.status,
        'previous_status', v_previous,
        'changed', v_previous <> _set_workspace_status.status
    );
end
$$;

comment on function private._set_workspace_status(uuid, text, text) is
'Implementation of public.set_workspace_status (definer: users cannot update workspaces.status).';
revoke all on function private._set_workspace_status(uuid, text, text) from public;
grant execute on function private._set_workspace_status(uuid, text, text) to authenticated;

create or replace function public.set_workspace_status(workspace_id uuid, status text, reason text)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
    select private._set_workspace_status(
        set_workspace_status.workspace_id, set_workspace_status.status, set_workspace_status.reason
    )
$$;

comment on function public.set_workspace_status(uuid, text, text) is
'Workspace kill switch (platform admins): status active, suspended or disabled, with a reason; audited.';
revoke all on function public.set_workspace_status(uuid, text, text) from public;
grant execute on function public.set_workspace_status(uuid, text, text) to authenticated;
