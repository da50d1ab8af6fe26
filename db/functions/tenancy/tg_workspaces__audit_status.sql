-- Workspace status is the kill switch: every change of it is audited, whether it
-- comes from set_workspace_status or from the playbook's plain UPDATE.
--
-- BEFORE: a status change takes its reason from set_workspace_status (passed
-- in the transaction-local setting opsdb.status_reason, since the same text as
-- the old reason is still a new reason); a plain UPDATE that does not set
-- status_reason clears the old one, so the column never shows a stale
-- explanation.
-- AFTER: one audit_logs row (workspace.status_changed) with before and after.

create or replace function private.tg_workspaces__clear_stale_reason()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    v_reason text := nullif(pg_catalog.current_setting('opsdb.status_reason', true), '');
begin
    if new.status is distinct from old.status then
        if v_reason is not null then
            new.status_reason := v_reason;
        elsif new.status_reason is not distinct from old.status_reason then
            new.status_reason := null;
        end if;
    end if;
    return new;
end
$$;

comment on function private.tg_workspaces__clear_stale_reason() is
'BEFORE UPDATE OF status on workspaces: the reason is set_workspace_status''s, else new, else none.';
revoke all on function private.tg_workspaces__clear_stale_reason() from public;

create or replace trigger tg_workspaces__clear_stale_reason
before update of status on public.workspaces
for each row execute function private.tg_workspaces__clear_stale_reason();

create or replace function private.tg_workspaces__audit_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform private.audit(
        'workspace.status_changed',
        'workspaces',
        new.id::text,
        new.id,
        pg_catalog.jsonb_build_object('status', old.status, 'status_reason', old.status_reason),
        pg_catalog.jsonb_build_object('status', new.status, 'status_reason', new.status_reason),
        new.status_reason
    );
    return null;
end
$$;

comment on function private.tg_workspaces__audit_status() is
'AFTER UPDATE on workspaces: audits every status change (the workspace kill switch).';
revoke all on function private.tg_workspaces__audit_status() from public;

create or replace trigger tg_workspaces__audit_status
after update of status on public.workspaces
for each row when (new.status is distinct from old.status)
execute function private.tg_workspaces__audit_status();
