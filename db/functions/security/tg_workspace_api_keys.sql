-- Triggers of workspace_api_keys: revocation is final and stamped, the identity
-- of a key (hash, prefix, workspace) never changes, and creating or revoking a
-- key leaves one audit_logs row, whether through the functions or plain SQL
-- (the playbook's UPDATE ... SET status = 'revoked').

create or replace function private.tg_workspace_api_keys__guard()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.key_hash is distinct from old.key_hash
        or new.prefix is distinct from old.prefix
        or new.workspace_id is distinct from old.workspace_id then
        raise exception using
            errcode = '22023',
            message = 'api_key_immutable',
            detail = pg_catalog.format('key %s: key_hash, prefix and workspace_id never change', old.id),
            hint = 'Create a new key and revoke this one.';
    end if;
    if old.status = 'revoked' and new.status <> 'revoked' then
        raise exception using
            errcode = '22023',
            message = 'api_key_revoked',
            detail = pg_catalog.format('key %s was revoked at %s; revocation is final', old.id, old.revoked_at),
            hint = 'Create a new key.';
    end if;
    if new.status = 'revoked' and old.status = 'active' then
        new.revoked_at := coalesce(new.revoked_at, pg_catalog.now());
        new.revoked_by := coalesce(new.revoked_by, (select auth.uid()));
    end if;
    return new;
end
$$;

comment on function private.tg_workspace_api_keys__guard() is
'BEFORE UPDATE on workspace_api_keys: identity is immutable, revocation final and stamped (revoked_at, revoked_by).';
revoke all on function private.tg_workspace_api_keys__guard() from public;

create or replace trigger tg_workspace_api_keys__guard
before update on public.workspace_api_keys
for each row execute function private.tg_workspace_api_keys__guard();

create or replace function private.tg_workspace_api_keys__audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform private.audit(
            'api_key.created', 'workspace_api_keys', new.id::text, new.workspace_id, null,
            pg_catalog.jsonb_build_object(
                'name', new.name, 'prefix', new.prefix, 'scopes', new.scopes, 'expires_at', new.expires_at
            )
        );
    else
        perform private.audit(
            'api_key.revoked', 'workspace_api_keys', new.id::text, new.workspace_id,
            pg_catalog.jsonb_build_object('status', old.status),
            pg_catalog.jsonb_build_object(
                'status', new.status, 'revoked_at', new.revoked_at, 'revoked_by', new.revoked_by
            ),
            new.revoked_reason
        );
    end if;
    return null;
end
$$;

comment on function private.tg_workspace_api_keys__audit() is
'AFTER INSERT or revocation on workspace_api_keys: audits key creation and revocation (never the hash).';
revoke all on function private.tg_workspace_api_keys__audit() from public;

create or replace trigger tg_workspace_api_keys__audit_insert
after insert on public.workspace_api_keys
for each row execute function private.tg_workspace_api_keys__audit();
create or replace trigger tg_workspace_api_keys__audit_revoke
after update of status on public.workspace_api_keys
for each row when (old.status = 'active' and new.status = 'revoked')
execute function private.tg_workspace_api_keys__audit();
