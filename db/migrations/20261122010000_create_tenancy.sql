-- Tenancy: plans, workspaces, their members, platform roles, and the two
-- cross-cutting tables every domain writes to: alerts and audit_logs.

create table public.plans (
    key text primary key check (key ~ '^[a-z][a-z0-9_]{1,31}$'),
    name text not null,
    is_paid boolean not null default false,
    price_minor bigint not null default 0 check (price_minor >= 0),
    currency text not null default 'EGP' check (currency ~ '^[A-Z]{3}$'),
    is_active boolean not null default true,
    sort_order integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (is_paid = (price_minor > 0))
);
comment on table public.plans is
'Subscription plans. Limits and rate limits per plan live beside it; prices are in minor units.';

insert into public.plans (key, name, is_paid, price_minor, currency, sort_order) values
('free', 'Free', false, 0, 'EGP', 0),
('pro', 'Pro', true, 150000, 'EGP', 1),
('business', 'Business', true, 450000, 'EGP', 2);

create table public.workspaces (
    id uuid primary key default gen_random_uuid(),
    name text not null check (length(btrim(name)) between 1 and 200),
    owner_id uuid not null references auth.users (id),
    plan_key text not null default 'free' references public.plans (key),
    status text not null default 'active' check (status in ('active', 'suspended', 'disabled')),
    status_reason text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table public.workspaces is
'Tenants. status is the kill switch: suspended or disabled workspaces lose API access and ingestion.';
comment on column public.workspaces.plan_key is
'The plan in force; changed only by subscription activation or cancellation.';
create index workspaces_owner_id_idx on public.workspaces (owner_id);
create index workspaces_plan_key_idx on public.workspaces (plan_key);

create table public.workspace_users (
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    user_id uuid not null references auth.users (id) on delete cascade,
    role text not null default 'member' check (role in ('owner', 'admin', 'member')),
    created_at timestamptz not null default now(),
    primary key (workspace_id, user_id)
);
comment on table public.workspace_users is 'Membership of users in workspaces, with their role there.';
-- The primary key serves lookups by workspace; policies look up by user.
create index workspace_users_user_id_idx on public.workspace_users (user_id, workspace_id);

create table public.user_roles (
    user_id uuid primary key references auth.users (id) on delete cascade,
    role text not null check (role in ('admin', 'support')),
    granted_by uuid references auth.users (id),
    created_at timestamptz not null default now()
);
comment on table public.user_roles is
'Platform-wide roles: admin (operates the platform) and support (reads masked data).';
create index user_roles_granted_by_idx on public.user_roles (granted_by);

create table public.alerts (
    id bigint generated always as identity primary key,
    type text not null check (type ~ '^[a-z][a-z0-9_]{1,63}$'),
    severity text not null default 'warning' check (severity in ('info', 'warning', 'critical')),
    workspace_id uuid references public.workspaces (id) on delete cascade,
    dedupe_key text not null,
    message text not null,
    details jsonb not null default '{}',
    created_at timestamptz not null default now(),
    acknowledged_at timestamptz,
    acknowledged_by uuid references auth.users (id)
);
comment on table public.alerts is
'Operational alerts. One open alert per dedupe_key: a condition that persists raises it once.';
create unique index alerts_open_dedupe_key_idx on public.alerts (dedupe_key) where acknowledged_at is null;
create index alerts_workspace_id_idx on public.alerts (workspace_id, created_at desc);
create index alerts_type_created_at_idx on public.alerts (type, created_at desc);
create index alerts_acknowledged_by_idx on public.alerts (acknowledged_by);

create table public.audit_logs (
    id bigint generated always as identity primary key,
    occurred_at timestamptz not null default now(),
    actor_id uuid,
    actor_role text not null,
    action text not null,
    target_table text not null,
    target_id text,
    workspace_id uuid,
    reason text,
    before jsonb,
    after jsonb
);
comment on table public.audit_logs is
'Append-only record of security-relevant changes; kept forever (never updated, deleted or truncated).';
comment on column public.audit_logs.actor_id is 'auth.uid() of the caller, null for backends and SQL sessions.';
comment on column public.audit_logs.actor_role is 'The JWT role, else the database role that made the change.';
-- No foreign keys on purpose: an audit row outlives the workspace or user it names.
create index audit_logs_workspace_id_idx on public.audit_logs (workspace_id, occurred_at desc);
create index audit_logs_target_idx on public.audit_logs (target_table, target_id);
create index audit_logs_actor_id_idx on public.audit_logs (actor_id);

alter table public.plans enable row level security;
alter table public.workspaces enable row level security;
alter table public.workspace_users enable row level security;
alter table public.user_roles enable row level security;
alter table public.alerts enable row level security;
alter table public.audit_logs enable row level security;

-- anon reads nothing in this project; API access starts from a signed-in user.
revoke all on public.plans, public.workspaces, public.workspace_users, public.user_roles,
public.alerts, public.audit_logs from anon;
-- audit_logs is append-only for every API role; triggers refuse it for the owner too.
revoke update, delete, truncate on public.audit_logs from authenticated, service_role;
