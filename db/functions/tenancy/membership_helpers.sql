-- Membership helpers used by RLS policies and by functions that check callers.
--
-- SECURITY DEFINER so a policy on workspace_users can call them without
-- recursing into its own policy; stable and cheap (one index probe) so the
-- planner can run them once per statement when wrapped in (select ...).

create or replace function private.is_workspace_member(workspace_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select 1
        from public.workspace_users as wu
        where wu.workspace_id = is_workspace_member.workspace_id
            and wu.user_id = (select auth.uid())
    )
$$;

comment on function private.is_workspace_member(uuid) is
'True when the calling user (auth.uid()) belongs to the workspace, in any role.';
revoke all on function private.is_workspace_member(uuid) from public;
grant execute on function private.is_workspace_member(uuid) to authenticated, service_role;

create or replace function private.is_workspace_admin(workspace_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select 1
        from public.workspace_users as wu
        where wu.workspace_id = is_workspace_admin.workspace_id
            and wu.user_id = (select auth.uid())
            and wu.role in ('owner', 'admin')
    )
$$;

comment on function private.is_workspace_admin(uuid) is
'True when the calling user is an owner or admin of the workspace.';
revoke all on function private.is_workspace_admin(uuid) from public;
grant execute on function private.is_workspace_admin(uuid) to authenticated, service_role;

create or replace function private.is_admin()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select 1
        from public.user_roles as ur
        where ur.user_id = (select auth.uid())
            and ur.role = 'admin'
    )
$$;

comment on function private.is_admin() is 'True when the calling user is a platform admin (user_roles).';
revoke all on function private.is_admin() from public;
grant execute on function private.is_admin() to authenticated, service_role;

create or replace function private.is_support()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select exists (
        select 1
        from public.user_roles as ur
        where ur.user_id = (select auth.uid())
            and ur.role in ('admin', 'support')
    )
$$;

comment on function private.is_support() is 'True for platform admins and support staff (user_roles).';
revoke all on function private.is_support() from public;
grant execute on function private.is_support() to authenticated, service_role;

create or replace function private.is_service_role()
returns boolean
language sql
stable
set search_path = ''
as $$
    select coalesce((select auth.role()), '') = 'service_role' or current_user = 'service_role'
$$;

comment on function private.is_service_role() is 'True when the request carries the service_role JWT.';
revoke all on function private.is_service_role() from public;
grant execute on function private.is_service_role() to authenticated, service_role;

-- The set-returning form for read policies. A policy written as
--   workspace_id = any((select private.member_workspace_ids())::uuid[])
-- evaluates the helper once per statement (an InitPlan) and compares each row
-- with an array, which the planner can also answer from an index on
-- workspace_id; the per-row form (select private.is_workspace_member(workspace_id))
-- calls the helper once per row. Measured on 20,000 agents in 1,000 workspaces,
-- a member listing theirs: 768 ms per-row, 3.6 ms with the array
-- (bench: security_member_reads_agents).

create or replace function private.member_workspace_ids()
returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(pg_catalog.array_agg(wu.workspace_id), '{}')
    from public.workspace_users as wu
    where wu.user_id = (select auth.uid())
$$;

comment on function private.member_workspace_ids() is
'The workspaces the calling user belongs to (any role), as an array for read policies.';
revoke all on function private.member_workspace_ids() from public;
grant execute on function private.member_workspace_ids() to authenticated, service_role;

create or replace function private.admin_workspace_ids()
returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(pg_catalog.array_agg(wu.workspace_id), '{}')
    from public.workspace_users as wu
    where wu.user_id = (select auth.uid()) and wu.role in ('owner', 'admin')
$$;

comment on function private.admin_workspace_ids() is
'The workspaces the calling user owns or administers, as an array for policies.';
revoke all on function private.admin_workspace_ids() from public;
grant execute on function private.admin_workspace_ids() to authenticated, service_role;
