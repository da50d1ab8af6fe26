-- private.audit: append one row to audit_logs, naming who did it.
--
-- The actor is auth.uid() when a signed-in user is behind the request, and
-- the JWT role (or, for SQL sessions and jobs, the database role) otherwise.
create or replace function private.audit(
    action text,
    target_table text,
    target_id text,
    workspace_id uuid default null,
    before jsonb default null,
    after jsonb default null,
    reason text default null
)
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
    insert into public.audit_logs (
        actor_id, actor_role, action, target_table, target_id, workspace_id, reason, before, after
    )
    values (
        (select auth.uid()),
        coalesce(nullif((select auth.role()), ''), session_user::text),
        audit.action,
        audit.target_table,
        audit.target_id,
        audit.workspace_id,
        audit.reason,
        audit.before,
        audit.after
    )
    returning id
$$;

comment on function private.audit(text, text, text, uuid, jsonb, jsonb, text) is
'Append an audit_logs row for a security-relevant change; returns its id.';
revoke all on function private.audit(text, text, text, uuid, jsonb, jsonb, text) from public;
