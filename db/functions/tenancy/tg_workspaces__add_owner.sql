-- Trigger: a new workspace's owner becomes its first member, with role owner.
create or replace function private.tg_workspaces__add_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.workspace_users (workspace_id, user_id, role)
    values (new.id, new.owner_id, 'owner')
    on conflict (workspace_id, user_id) do update set role = 'owner';
    return new;
end
$$;

comment on function private.tg_workspaces__add_owner() is 'AFTER INSERT on workspaces: owner membership.';
revoke all on function private.tg_workspaces__add_owner() from public;

create or replace trigger tg_workspaces__add_owner after insert on public.workspaces
for each row execute function private.tg_workspaces__add_owner();
