-- private.visible_workspace_ids: the workspaces a read policy lets the caller see,
-- as one array.
--
--   using (workspace_id = any((select private.visible_workspace_ids('member', 'support'))::uuid[]))
--
-- workspace_role: 'member' (any role in the workspace) or 'admin' (owner or admin).
-- staff_role: the platform role that sees every workspace: 'support' (support
-- staff and platform admins) or 'admin' (platform admins only).
--
-- Why one array and not `member ids or (select private.is_support())`: an OR with
-- a flag the planner cannot see through keeps it off the workspace_id index, so a
-- member's read without a workspace filter scanned every tenant's rows. With one
-- array the condition is always `workspace_id = any($1)`, which the index that
-- leads with workspace_id answers: a member's read costs their own rows. Staff get
-- every workspace's id (one pass over workspaces per statement), so their reads
-- take the same index path.
--
-- Staff also get the nil uuid, which no workspace has (workspaces_id_not_nil): the
-- tables whose platform-wide rows carry no workspace (alerts, audit_logs,
-- external_api_audit_logs) compare coalesce(workspace_id, nil) with the array, from
-- an index on that expression, so those rows cost staff one index range and
-- members nothing.
create or replace function private.visible_workspace_ids(workspace_role text, staff_role text)
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_uid uuid := (select auth.uid());
    v_ids uuid[];
begin
    if visible_workspace_ids.workspace_role is distinct from 'member'
        and visible_workspace_ids.workspace_role is distinct from 'admin' then
        raise exception using
            errcode = '22023', message = 'invalid_workspace_role',
            detail = pg_catalog.format('workspace_role %L', visible_workspace_ids.workspace_role),
            hint = 'member or admin';
    end if;
    if visible_workspace_ids.staff_role is distinct from 'support'
        and visible_workspace_ids.staff_role is distinct from 'admin' then
        raise exception using
            errcode = '22023', message = 'invalid_staff_role',
            detail = pg_catalog.format('staff_role %L', visible_workspace_ids.staff_role),
            hint = 'support or admin';
    end if;
    if v_uid is null then
        return '{}'::uuid[];
    end if;
    if exists (
        select from public.user_roles as ur
        where ur.user_id = v_uid
            and (ur.role = 'admin' or (ur.role = 'support' and visible_workspace_ids.staff_role = 'support'))
    ) then
        select pg_catalog.array_append(
            coalesce(pg_catalog.array_agg(w.id), '{}'::uuid[]), '00000000-0000-0000-0000-000000000000'::uuid
        )
        into v_ids
        from public.workspaces as w;
    else
        select coalesce(pg_catalog.array_agg(wu.workspace_id), '{}'::uuid[])
        into v_ids
        from public.workspace_users as wu
        where wu.user_id = v_uid
            and (visible_workspace_ids.workspace_role = 'member' or wu.role in ('owner', 'admin'));
    end if;
    return v_ids;
end
$$;

comment on function private.visible_workspace_ids(text, text) is
'The workspaces a read policy shows the caller, as one array: those where they hold workspace_role '
'(member: any role; admin: owner or admin), or every workspace for platform staff of staff_role '
'(support: support and admins; admin: admins only), plus the nil uuid that stands for rows of no workspace.';
revoke all on function private.visible_workspace_ids(text, text) from public;
grant execute on function private.visible_workspace_ids(text, text) to authenticated, service_role;

-- private.visible_workspace_bounds: the lowest (upper false) or highest visible
-- workspace id, for the policies of the large per-tenant tables:
--
--   using (workspace_id = any((select private.visible_workspace_ids('member', 'support'))::uuid[])
--          and workspace_id between (select private.visible_workspace_bounds('member', 'support', false))
--                               and (select private.visible_workspace_bounds('member', 'support', true)))
--
-- It changes no answer (every visible id lies between the bounds); it tells the
-- planner the rows are few. An array the planner cannot see counts as ten
-- workspaces, so for "the 50 latest events" it walks everyone's newest rows
-- until 50 of the caller's turn up, a cost set by the caller's share of all
-- traffic; with the bounds it reads the caller's rows from the workspace_id
-- index. Staff get the whole uuid range (they see every workspace).
create or replace function private.visible_workspace_bounds(workspace_role text, staff_role text, upper boolean)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_uid uuid := (select auth.uid());
    v_id uuid;
begin
    if exists (
        select from public.user_roles as ur
        where ur.user_id = v_uid
            and (ur.role = 'admin' or (ur.role = 'support' and visible_workspace_bounds.staff_role = 'support'))
    ) then
        return case
            when visible_workspace_bounds.upper then 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
            else '00000000-0000-0000-0000-000000000000'::uuid
        end;
    end if;
    -- Two statements, each one index probe of (user_id, workspace_id) from its own end.
    if visible_workspace_bounds.upper then
        select wu.workspace_id
        into v_id
        from public.workspace_users as wu
        where wu.user_id = v_uid
            and (visible_workspace_bounds.workspace_role = 'member' or wu.role in ('owner', 'admin'))
        order by wu.workspace_id desc
        limit 1;
    else
        select wu.workspace_id
        into v_id
        from public.workspace_users as wu
        where wu.user_id = v_uid
            and (visible_workspace_bounds.workspace_role = 'member' or wu.role in ('owner', 'admin'))
        order by wu.workspace_id
        limit 1;
    end if;
    return v_id;
end
$$;

comment on function private.visible_workspace_bounds(text, text, boolean) is
'The lowest (upper false) or highest visible workspace id of private.visible_workspace_ids (staff: the whole '
'range): policies add it so the planner reads a member''s rows from the workspace_id index.';
revoke all on function private.visible_workspace_bounds(text, text, boolean) from public;
grant execute on function private.visible_workspace_bounds(text, text, boolean) to authenticated, service_role;
