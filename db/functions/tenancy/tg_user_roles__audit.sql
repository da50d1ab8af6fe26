-- Platform roles (admin, support) are the most powerful grants there are:
-- every grant, change and revocation is audited.
create or replace function private.tg_user_roles__audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform private.audit(
            'user_role.granted', 'user_roles', new.user_id::text, null,
            null, pg_catalog.jsonb_build_object('role', new.role, 'granted_by', new.granted_by)
        );
    elsif tg_op = 'UPDATE' then
        perform private.audit(
            'user_role.changed', 'user_roles', new.user_id::text, null,
            pg_catalog.jsonb_build_object('role', old.role, 'granted_by', old.granted_by),
            pg_catalog.jsonb_build_object('role', new.role, 'granted_by', new.granted_by)
        );
    else
        perform private.audit(
            'user_role.revoked', 'user_roles', old.user_id::text, null,
            pg_catalog.jsonb_build_object('role', old.role, 'granted_by', old.granted_by), null
        );
    end if;
    return null;
end
$$;

comment on function private.tg_user_roles__audit() is
'AFTER INSERT/UPDATE/DELETE on user_roles: audits platform role grants and revocations.';
revoke all on function private.tg_user_roles__audit() from public;

create or replace trigger tg_user_roles__audit_insert_delete
after insert or delete on public.user_roles
for each row execute function private.tg_user_roles__audit();
create or replace trigger tg_user_roles__audit_update
after update on public.user_roles
for each row when (new.role is distinct from old.role)
execute function private.tg_user_roles__audit();
