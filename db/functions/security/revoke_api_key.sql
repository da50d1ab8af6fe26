-- revoke_api_key: revoke an API key at once; revocation is final.
--
--   select public.revoke_api_key('<key uuid>', 'leaked in a log');
--   -> {"key_id": ..., "status": "revoked", "revoked_at": ..., "already_revoked": false}
--
-- Who: the key's workspace owners/admins, and platform admins (authenticated).
-- PT404 for an unknown key, 42501 for anyone else. Revoking a revoked key
-- changes nothing and says so. The trigger stamps revoked_at and audits it,
-- exactly as for the playbook's plain UPDATE.

create or replace function private._revoke_api_key(key_id uuid, reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_key public.workspace_api_keys;
begin
    select k.* into v_key from public.workspace_api_keys as k where k.id = _revoke_api_key.key_id for update;
    if not found then
        raise exception using
            errcode = 'PT404', message = 'api_key_not_found',
            detail = pg_catalog.format('no API key %s', _revoke_api_key.key_id),
            hint = 'List the workspace''s keys to find its id.';
    end if;
    if (select auth.uid()) is null
        or not (private.is_workspace_admin(v_key.workspace_id) or private.is_admin()) then
        raise exception using
            errcode = '42501', message = 'not_allowed',
            detail = pg_catalog.format('caller %s may not revoke key %s of workspace %s',
                coalesce((select auth.uid())::text, 'anonymous'), v_key.id, v_key.workspace_id),
            hint = 'Workspace owners/admins and platform admins revoke keys.';
    end if;
    if v_key.status = 'revoked' then
        return pg_catalog.jsonb_build_object(
            'key_id', v_key.id, 'status', v_key.status, 'revoked_at', v_key.revoked_at, 'already_revoked', true
        );
    end if;
    update public.workspace_api_keys as k
    set status = 'revoked', revoked_reason = _revoke_api_key.reason, revoked_by = (select auth.uid())
    where k.id = v_key.id
    returning k.* into v_key;
    return pg_catalog.jsonb_build_object(
        'key_id', v_key.id, 'status', v_key.status, 'revoked_at', v_key.revoked_at, 'already_revoked', false
    );
end
$$;

comment on function private._revoke_api_key(uuid, text) is
'Implementation of public.revoke_api_key (definer: users may only rename keys directly).';
revoke all on function private._revoke_api_key(uuid, text) from public;
grant execute on function private._revoke_api_key(uuid, text) to authenticated;

create or replace function public.revoke_api_key(key_id uuid, reason text default null)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
    select private._revoke_api_key(revoke_api_key.key_id, revoke_api_key.reason)
$$;

comment on function public.revoke_api_key(uuid, text) is
'Revoke an API key at once (workspace owners/admins, platform admins). Returns {key_id, status, revoked_at}.';
revoke all on function public.revoke_api_key(uuid, text) from public;
grant execute on function public.revoke_api_key(uuid, text) to authenticated;
