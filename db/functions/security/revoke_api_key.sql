-- revoke_api_key: revoke an API key at once; revocation is final.
--
--   select public.revoke_api_key('<key uuid>', 'leaked in a log');
--   -> {"key_id": ..., "status": "revoked", "revoked_at": ..., "already_revoked": false}
--
-- Who: the key's workspace owners/admins, and platform admins (authenticated).
-- PT404 for an unknown key and, alike, for a key the caller may not revoke (so
-- its existence is not disclosed); 42501 without a signed-in user. Revoking a
-- revoked key changes nothing and says so. The trigger stamps revoked_at and audits it,
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
    -- An unknown key and someone else's key answer alike (PT404, same detail), so
    -- a signed-in user cannot probe which key ids exist. The permission is part
    -- of the lookup, so the row is locked only for callers who may revoke it.
    if (select auth.uid()) is null then
        raise exception using
            errcode = '42501', message = 'not_allowed', detail = 'revoking a key needs a signed-in user',
            hint = 'Workspace owners/admins and platform admins revoke keys.';
    end if;
    select k.* into v_key from public.workspace_api_keys as k
    where k.id = _revoke_api_key.key_id
        and (private.is_workspace_admin(k.workspace_id) or private.is_admin())
    for update;
    if not found then
        raise exception using
            errcode = 'PT404', message = 'api_key_not_found',
            detail = pg_catalog.format('no API key %s that caller %s may revoke',
                _revoke_api_key.key_id, (select auth.uid())),
            hint = 'List the workspace''s keys to find its id; only its owners/admins and platform admins revoke it.';
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
