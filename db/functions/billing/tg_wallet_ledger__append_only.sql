-- public.wallet_ledger is append-only for every role, the owner and service_role included:
-- it is the evidence behind workspace_wallets balances, and no job
-- (retention included) may change or delete it. UPDATE, DELETE and TRUNCATE raise.
create or replace function private.tg_wallet_ledger__append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception using
        errcode = '42501',
        message = 'wallet_ledger_append_only',
        detail = pg_catalog.format('%s on public.wallet_ledger is not allowed', tg_op),
        hint = 'These rows are kept forever; record a correction as a new row.';
end
$$;

comment on function private.tg_wallet_ledger__append_only() is 'Refuses UPDATE, DELETE and TRUNCATE on wallet_ledger.';
revoke all on function private.tg_wallet_ledger__append_only() from public;

create or replace trigger tg_wallet_ledger__no_update before update or delete on public.wallet_ledger
for each row execute function private.tg_wallet_ledger__append_only();
create or replace trigger tg_wallet_ledger__no_truncate before truncate on public.wallet_ledger
for each statement execute function private.tg_wallet_ledger__append_only();
