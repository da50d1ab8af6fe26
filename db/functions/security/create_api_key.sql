-- create_api_key: mint an API key for a workspace; the raw key is returned this
-- once and never stored (only its SHA-256 hash is).
--
--   select public.create_api_key('<workspace uuid>', 'Zapier', array['calls:read']);
--   -> {"key_id": ..., "api_key": "opsk_<64 hex>", "prefix": "opsk_1a2b3c4d", ...}
--
-- Who: the workspace's owners and admins (authenticated). 42501 for anyone
-- else and for a workspace that is not active; 22023 for a blank name, a
-- malformed or null scope or an expiry in the past. The insert is audited by trigger.

create or replace function private._create_api_key(
    workspace_id uuid,
    name text,
    scopes text[],
    expires_at timestamptz
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_status text;
    v_key text;
    v_prefix text;
    v_id uuid;
    v_scopes text[] := coalesce(_create_api_key.scopes, '{}');
begin
    if (select auth.uid()) is null or not private.is_workspace_admin(_create_api_key.workspace_id) then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = pg_catalog.format('caller %s is not an owner or admin of workspace %s',
                coalesce((select auth.uid())::text, 'anonymous'), _create_api_key.workspace_id),
            hint = 'Only workspace owners and admins create API keys.';
    end if;
    if _create_api_key.name is null or pg_catalog.length(pg_catalog.btrim(_create_api_key.name)) not between 1 and 100 then
        raise exception using
            errcode = '22023', message = 'invalid_name', detail = 'name must be 1 to 100 characters',
            hint = 'Name the key after what uses it.';
    end if;
    -- "is not true": a null scope fails the match (null !~ ... is null, not true).
    if exists (
        select from pg_catalog.unnest(v_scopes) as s (scope)
        where (s.scope ~ '^[a-z][a-z0-9_.:*-]{0,63}$') is not true
    ) then
        raise exception using
            errcode = '22023', message = 'invalid_scope',
            detail = pg_catalog.format('scopes %s: each must match ^[a-z][a-z0-9_.:*-]{0,63}$', v_scopes),
            hint = 'Use lowercase scopes such as calls:read.';
    end if;
    if _create_api_key.expires_at is not null and _create_api_key.expires_at <= pg_catalog.now() then
        raise exception using
            errcode = '22023', message = 'invalid_expires_at',
            detail = pg_catalog.format('expires_at %s is not in the future', _create_api_key.expires_at),
            hint = 'Pass a future timestamp, or null for a key that does not expire.';
    end if;
    select w.status into v_status from public.workspaces as w where w.id = _create_api_key.workspace_id;
    if v_status is distinct from 'active' then
        raise exception using
            errcode = '42501', message = 'workspace_not_active',
            detail = pg_catalog.format('workspace %s is %s', _create_api_key.workspace_id, v_status),
            hint = 'A platform admin must reactivate the workspace first.';
    end if;

    -- 32 random bytes: the key is unguessable, so a plain (unsalted) SHA-256 is enough.
    v_key := 'opsk_' || pg_catalog.encode(extensions.gen_random_bytes(32), 'hex');
    v_prefix := pg_catalog.left(v_key, 13);
    insert into public.workspace_api_keys (workspace_id, name, prefix, key_hash, scopes, expires_at, created_by)
    values (
        _create_api_key.workspace_id,
        pg_catalog.btrim(_create_api_key.name),
        v_prefix,
        pg_catalog.encode(extensions.digest(v_key, 'sha256'), 'hex'),
        v_scopes,
        _create_api_key.expires_at,
        (select auth.uid())
    )
    returning id into v_id;

    return pg_catalog.jsonb_build_object(
        'key_id', v_id,
        'api_key', v_key,
        'prefix', v_prefix,
        'workspace_id', _create_api_key.workspace_id,
        'name', pg_catalog.btrim(_create_api_key.name),
        'scopes', pg_catalog.to_jsonb(v_scopes),
        'expires_at', _create_api_key.expires_at
    );
end
$$;

comment on function private._create_api_key(uuid, text, text[], timestamptz) is
'Implementation of public.create_api_key (definer: users have no insert grant on workspace_api_keys).';
revoke all on function private._create_api_key(uuid, text, text[], timestamptz) from public;
grant execute on function private._create_api_key(uuid, text, text[], timestamptz) to authenticated;

create or replace function public.create_api_key(
    workspace_id uuid,
    name text,
    scopes text[] default '{}',
    expires_at timestamptz default null
)
returns jsonb
language sql
volatile
security invoker
set search_path = ''
as $$
    select private._create_api_key(
        create_api_key.workspace_id, create_api_key.name, create_api_key.scopes, create_api_key.expires_at
    )
$$;

comment on function public.create_api_key(uuid, text, text[], timestamptz) is
'Mint an API key (workspace owners/admins). Returns {key_id, api_key, prefix}; api_key is shown this once.';
revoke all on function public.create_api_key(uuid, text, text[], timestamptz) from public;
grant execute on function public.create_api_key(uuid, text, text[], timestamptz) to authenticated;
