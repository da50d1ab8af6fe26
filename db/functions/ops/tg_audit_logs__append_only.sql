-- audit_logs is append-only for every role, the table owner and service_role
-- included: UPDATE, DELETE and TRUNCATE raise, whatever the grants say.
create or replace function private.tg_audit_logs__append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception using
        errcode = '42501',
        message = 'audit_logs_append_only',
        detail = pg_catalog.format('%s on public.audit_logs is not allowed', tg_op),
        hint = 'Audit rows are kept forever; record a correction as a new row.';
end
$$;

comment on function private.tg_audit_logs__append_only() is 'Refuses UPDATE, DELETE and TRUNCATE on audit_logs.';
revoke all on function private.tg_audit_logs__append_only() from public;

create or replace trigger tg_audit_logs__no_update before update or delete on public.audit_logs
for each row execute function private.tg_audit_logs__append_only();
create or replace trigger tg_audit_logs__no_truncate before truncate on public.audit_logs
for each statement execute function private.tg_audit_logs__append_only();
