-- Prepaid credit wallets and their ledger. The CHECK makes a negative balance
-- impossible whatever code runs; the ledger records every change so that the sum
-- of a wallet's ledger amounts always equals its balance.

create table public.workspace_wallets (
    workspace_id uuid primary key references public.workspaces (id),
    balance numeric(20, 4) not null default 0 check (balance >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table public.workspace_wallets is
'Prepaid credits per workspace. balance >= 0 is a CHECK; changed only by deduct_credits and grant_credits.';

create table public.wallet_ledger (
    id bigint generated always as identity primary key,
    workspace_id uuid not null references public.workspace_wallets (workspace_id),
    kind text not null check (kind in ('deduct', 'grant')),
    amount numeric(20, 4) not null check (amount <> 0),
    balance_after numeric(20, 4) not null check (balance_after >= 0),
    reason text not null,
    idempotency_key text,
    actor_id uuid,
    actor_role text not null,
    created_at timestamptz not null default now(),
    check ((kind = 'deduct') = (amount < 0))
);
comment on table public.wallet_ledger is
'Append-only ledger of every wallet change: signed amount (deductions negative), balance after it, reason, '
'idempotency key, actor and time. Per workspace, sum(amount) = workspace_wallets.balance.';
comment on column public.wallet_ledger.id is 'The transaction_id deduct_credits and grant_credits return.';
create unique index wallet_ledger_idempotency_key_idx on public.wallet_ledger (workspace_id, idempotency_key)
where idempotency_key is not null;
create index wallet_ledger_workspace_id_idx on public.wallet_ledger (workspace_id, id);

alter table public.workspace_wallets enable row level security;
alter table public.wallet_ledger enable row level security;

revoke all on public.workspace_wallets, public.wallet_ledger from anon;
revoke insert, update, delete, truncate on public.workspace_wallets, public.wallet_ledger
from authenticated, service_role;
