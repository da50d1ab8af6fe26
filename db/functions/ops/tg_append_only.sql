-- Append-only logs: audit_logs, usage_events and wallet_ledger are evidence
-- (of who changed what, of what was used, of every credit movement) and are
-- kept forever. UPDATE, DELETE and TRUNCATE raise for every role, the table
-- owner and service_role included, whatever the grants say; no job (retention
-- included) may change them. One trigger function serves all three tables.
create or replace function private.tg_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception using
        errcode = '42501',
        message = tg_table_name || '_append_only',
        detail = pg_catalog.format('%s on %I.%I is not allowed', tg_op, tg_table_schema, tg_table_name),
        hint = 'These rows are kept forever; record a correction as a new row.';
end
$$;

comment on function private.tg_append_only() is
'Refuses UPDATE, DELETE and TRUNCATE on the append-only logs (audit_logs, usage_events, wallet_ledger).';
revoke all on function private.tg_append_only() from public;

create or replace trigger tg_audit_logs__no_update before update or delete on public.audit_logs
for each row execute function private.tg_append_only();
create or replace trigger tg_audit_logs__no_truncate before truncate on public.audit_logs
for each statement execute function private.tg_append_only();

create or replace trigger tg_usage_events__no_update before update or delete on public.usage_events
for each row execute function private.tg_append_only();
create or replace trigger tg_usage_events__no_truncate before truncate on public.usage_events
for each statement execute function private.tg_append_only();

create or replace trigger tg_wallet_ledger__no_update before update or delete on public.wallet_ledger
for each row execute function private.tg_append_only();
create or replace trigger tg_wallet_ledger__no_truncate before truncate on public.wallet_ledger
for each statement execute function private.tg_append_only();
