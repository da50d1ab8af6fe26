-- Subscriptions and payments: a plan is upgraded only by a confirmed payment
-- (a Paymob callback with a valid HMAC, or a platform admin confirming InstaPay).

create table public.payments (
    id uuid primary key default gen_random_uuid(),
    -- Restrict, not cascade: billing records outlive any cleanup of a workspace.
    workspace_id uuid not null references public.workspaces (id) on delete restrict,
    plan_key text not null references public.plans (key),
    provider text not null check (provider in ('paymob', 'instapay')),
    amount_minor bigint not null check (amount_minor > 0),
    currency text not null check (currency ~ '^[A-Z]{3}$'),
    status text not null default 'pending'
    check (status in ('pending', 'confirmed', 'failed', 'rejected', 'refunded')),
    reference text not null unique check (reference ~ '^[A-Z0-9-]{6,64}$'),
    provider_reference text,
    bank_reference text check (length(btrim(bank_reference)) between 1 and 128),
    webhook_id bigint,
    failure_reason text,
    requested_by uuid references auth.users (id),
    confirmed_by uuid references auth.users (id),
    confirmed_at timestamptz,
    settled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint payments_confirmed_has_time check (status <> 'confirmed' or confirmed_at is not null)
);
comment on table public.payments is
'Payment requests and their settlement. Only a confirmation (Paymob callback, admin InstaPay check) activates a plan.';
comment on column public.payments.amount_minor is 'The plan price at request time, in minor units (piastres for EGP).';
comment on column public.payments.reference is
'What the payer quotes: the InstaPay transfer note; Paymob''s order.merchant_order_id.';
comment on column public.payments.provider_reference is
'Paymob transaction id (obj.id) of the attempt that settled it.';
comment on column public.payments.bank_reference is 'InstaPay bank transfer reference an admin matched it with.';
comment on column public.payments.webhook_id is
'The webhook_queue row that settled it (no foreign key: webhook payloads expire, payments do not).';
create unique index payments_provider_reference_idx on public.payments (provider, provider_reference)
where provider_reference is not null;
-- One bank transfer pays for one request.
create unique index payments_bank_reference_idx on public.payments (bank_reference)
where bank_reference is not null;
create index payments_workspace_id_idx on public.payments (workspace_id, created_at desc);
create index payments_plan_key_idx on public.payments (plan_key);
create index payments_requested_by_idx on public.payments (requested_by);
create index payments_confirmed_by_idx on public.payments (confirmed_by);
-- The diagnostics view looks for requests stuck pending.
create index payments_pending_idx on public.payments (created_at) where status = 'pending';

create table public.subscriptions (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    plan_key text not null references public.plans (key),
    status text not null default 'active' check (status in ('trialing', 'active', 'past_due', 'canceled')),
    current_period_start timestamptz not null default now(),
    current_period_end timestamptz,
    payment_id uuid references public.payments (id),
    canceled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (current_period_end is null or current_period_end > current_period_start)
);
comment on table public.subscriptions is
'A workspace''s paid plan over time. At most one live (not canceled) row per workspace; canceling it drops to free.';
comment on column public.subscriptions.payment_id is 'The confirmed payment that last activated or renewed it.';
-- At most one live subscription per workspace; activation upserts on it.
create unique index subscriptions_live_workspace_idx on public.subscriptions (workspace_id)
where status <> 'canceled';
create index subscriptions_workspace_id_idx on public.subscriptions (workspace_id, created_at desc);
create index subscriptions_plan_key_idx on public.subscriptions (plan_key);
create index subscriptions_payment_id_idx on public.subscriptions (payment_id);

alter table public.payments enable row level security;
alter table public.subscriptions enable row level security;

revoke all on public.payments, public.subscriptions from anon;
-- Users read through RLS; every write goes through the payment functions.
revoke insert, update, delete, truncate on public.payments, public.subscriptions from authenticated;
