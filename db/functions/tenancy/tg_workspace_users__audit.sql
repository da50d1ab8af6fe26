-- Membership changes are security-relevant: who joined a workspace, whose role
-- changed, who was removed. One audit_logs row per changed membership.
create or replace function private.tg_workspace_users__audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        perform private.audit(
            'membership.added', 'workspace_users', new.user_id::text, new.workspace_id,
            null, pg_catalog.jsonb_build_object('user_id', new.user_id, 'role', new.role)
        );
    elsif tg_op = 'UPDATE' then
        perform private.audit(
            'membership.role_changed', 'workspace_users', new.user_id::text, new.workspace_id,
            pg_catalog.jsonb_build_object('user_id', old.user_id, 'role', old.role),
            pg_catalog.jsonb_build_object('user_id', new.user_id, 'role', new.role)
        );
    else
        perform private.audit(
            'membership.removed', 'workspace_users', old.user_id::text, old.workspace_id,
            pg_catalog.jsonb_build_object('user_id', old.user_id, 'role', old.role), null
        );
    end if;
    return null;
end
$$;

comment on function private.tg_workspace_users__audit() is
'AFTER INSERT/UPDATE/DELETE on workspace_users: audits membership and role changes.';
revoke all on function private.tg_workspace_users__audit() from public;

create or replace trigger tg_workspace_users__audit_insert_delete
after insert or delete on public.workspace_users
for each row execute function private.tg_workspace_users__audit();
create or replace trigger tg_workspace_users__audit_update
after update on public.workspace_users
for each row when (new.role is distinct from old.role)
execute function private.tg_workspace_users__audit();
