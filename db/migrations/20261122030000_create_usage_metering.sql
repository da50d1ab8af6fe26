-- Usage metering: what each plan allows and costs per metric, the terms frozen per
-- workspace and period (tier_snapshots), running totals (usage_limits), the
-- append-only usage_events behind them, and billing_line_items traceable to events.

create table public.usage_metrics (
    key text primary key check (key ~ '^[a-z][a-z0-9_]{1,31}$'),
    unit text not null,
    description text not null
);
comment on table public.usage_metrics is
'Metered quantities. record_usage refuses any metric not listed here (22023 unknown_metric).';

insert into public.usage_metrics (key, unit, description) values
('call_minutes', 'minute', 'Voice call minutes handled by agents'),
('sms', 'message', 'SMS messages sent or received'),
('messages', 'message', 'Chat messages (WhatsApp, Messenger, web chat)'),
('llm_tokens', 'token', 'LLM tokens consumed by agents');

create table public.plan_limits (
    plan_key text not null references public.plans (key),
    metric text not null references public.usage_metrics (key),
    soft_limit numeric not null check (soft_limit > 0),
    hard_limit numeric not null,
    unit_price_minor numeric not null check (unit_price_minor >= 0),
    primary key (plan_key, metric),
    check (hard_limit >= soft_limit)
);
comment on table public.plan_limits is
'Per plan and metric: monthly soft limit (warning), hard limit (blocked) and unit price in minor units.';
create index plan_limits_metric_idx on public.plan_limits (metric);

insert into public.plan_limits (plan_key, metric, soft_limit, hard_limit, unit_price_minor) values
('free', 'call_minutes', 80, 100, 150),
('free', 'sms', 40, 50, 50),
('free', 'messages', 800, 1000, 5),
('free', 'llm_tokens', 80000, 100000, 0.002),
('pro', 'call_minutes', 800, 1000, 120),
('pro', 'sms', 400, 500, 40),
('pro', 'messages', 8000, 10000, 4),
('pro', 'llm_tokens', 800000, 1000000, 0.0015),
('business', 'call_minutes', 4000, 5000, 100),
('business', 'sms', 2000, 2500, 30),
('business', 'messages', 40000, 50000, 3),
('business', 'llm_tokens', 4000000, 5000000, 0.001);

create table public.plan_rate_limits (
    plan_key text not null references public.plans (key),
    bucket text not null check (bucket ~ '^[a-z][a-z0-9_]{1,31}$'),
    max_requests integer not null check (max_requests > 0),
    window_seconds integer not null check (window_seconds between 1 and 86400),
    primary key (plan_key, bucket)
);
comment on table public.plan_rate_limits is
'Per plan and bucket: at most max_requests per fixed window of window_seconds (check_rate_limit).';

insert into public.plan_rate_limits (plan_key, bucket, max_requests, window_seconds) values
('free', 'api', 60, 60),
('free', 'messages', 30, 60),
('pro', 'api', 600, 60),
('pro', 'messages', 300, 60),
('business', 'api', 3000, 60),
('business', 'messages', 1500, 60);

create table public.tier_snapshots (
    id bigint generated always as identity primary key,
    workspace_id uuid not null references public.workspaces (id),
    period_start date not null,
    plan_key text not null references public.plans (key),
    currency text not null,
    limits jsonb not null check (jsonb_typeof(limits) = 'object'),
    rate_limits jsonb not null default '{}' check (jsonb_typeof(rate_limits) = 'object'),
    reason text not null check (reason in ('period_start', 'plan_change')),
    note text,
    effective_from timestamptz not null default now(),
    created_at timestamptz not null default now()
);
comment on table public.tier_snapshots is
'The plan''s limits and prices frozen for a workspace at period start and at every plan change, '
'so a past period bills on the terms that applied then, whatever happens to plans later.';
comment on column public.tier_snapshots.limits is
'{metric: {soft_limit, hard_limit, unit_price_minor}} copied from plan_limits.';
-- The latest snapshot of a period is the one in force.
create index tier_snapshots_workspace_period_idx on public.tier_snapshots (workspace_id, period_start, id desc);
create index tier_snapshots_plan_key_idx on public.tier_snapshots (plan_key);

create table public.usage_limits (
    workspace_id uuid not null references public.workspaces (id),
    metric text not null references public.usage_metrics (key),
    period_start date not null,
    period_end date not null,
    plan_key text not null references public.plans (key),
    tier_snapshot_id bigint not null references public.tier_snapshots (id),
    soft_limit numeric not null,
    hard_limit numeric not null,
    used numeric not null default 0 check (used >= 0),
    -- Generated, so a new limit (plan change) re-evaluates the state by itself.
    limit_state text not null generated always as (
        case when used >= hard_limit then 'blocked' when used >= soft_limit then 'warning' else 'ok' end
    ) stored,
    warning_alert_id bigint,
    blocked_alert_id bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (workspace_id, metric, period_start)
);
comment on table public.usage_limits is
'Running usage per workspace, metric and billing period (calendar month, UTC) with the tier fields in '
'force and limit_state ok/warning/blocked. Written only by record_usage and private.on_plan_change.';
comment on column public.usage_limits.warning_alert_id is
'The usage_warning alert raised for this period; set once, so the period never raises a second one.';
comment on column public.usage_limits.blocked_alert_id is
'The usage_blocked alert raised for this period; set once, so the period never raises a second one.';
create index usage_limits_metric_idx on public.usage_limits (metric);
create index usage_limits_plan_key_idx on public.usage_limits (plan_key);
create index usage_limits_tier_snapshot_id_idx on public.usage_limits (tier_snapshot_id);

create table public.usage_events (
    id bigint generated always as identity primary key,
    workspace_id uuid not null references public.workspaces (id),
    metric text not null references public.usage_metrics (key),
    quantity numeric not null check (quantity > 0),
    period_start date not null,
    tier_snapshot_id bigint not null references public.tier_snapshots (id),
    source text,
    idempotency_key text,
    occurred_at timestamptz not null default now()
);
comment on table public.usage_events is
'Append-only: one row per recorded usage (never updated or deleted). A retried record with the same '
'idempotency_key counts once. tier_snapshot_id is the terms the event bills at.';
create unique index usage_events_idempotency_key_idx on public.usage_events (workspace_id, idempotency_key)
where idempotency_key is not null;
-- Line items aggregate and cite events by workspace, period, metric and snapshot.
create index usage_events_billing_idx on public.usage_events (workspace_id, period_start, metric, tier_snapshot_id, id);
create index usage_events_metric_idx on public.usage_events (metric);
create index usage_events_tier_snapshot_id_idx on public.usage_events (tier_snapshot_id);

create table public.billing_line_items (
    id bigint generated always as identity primary key,
    workspace_id uuid not null references public.workspaces (id),
    period_start date not null,
    metric text not null references public.usage_metrics (key),
    tier_snapshot_id bigint not null references public.tier_snapshots (id),
    plan_key text not null references public.plans (key),
    quantity numeric not null,
    unit_price_minor numeric not null,
    amount_minor numeric not null,
    currency text not null,
    first_event_id bigint not null,
    last_event_id bigint not null,
    event_count integer not null,
    generated_at timestamptz not null default now(),
    unique (workspace_id, period_start, metric, tier_snapshot_id),
    check (first_event_id <= last_event_id)
);
comment on table public.billing_line_items is
'One line per workspace, period, metric and tier snapshot in force: quantity, unit price from the snapshot, '
'amount, and the usage_events (ids first_event_id..last_event_id of that workspace, period, metric and '
'snapshot) it covers. Regenerating a period yields the same lines.';
create index billing_line_items_metric_idx on public.billing_line_items (metric);
create index billing_line_items_tier_snapshot_id_idx on public.billing_line_items (tier_snapshot_id);
create index billing_line_items_plan_key_idx on public.billing_line_items (plan_key);

alter table public.usage_metrics enable row level security;
alter table public.plan_limits enable row level security;
alter table public.plan_rate_limits enable row level security;
alter table public.tier_snapshots enable row level security;
alter table public.usage_limits enable row level security;
alter table public.usage_events enable row level security;
alter table public.billing_line_items enable row level security;

revoke all on public.usage_metrics, public.plan_limits, public.plan_rate_limits, public.tier_snapshots,
public.usage_limits, public.usage_events, public.billing_line_items from anon;
-- Reads go through RLS; every write goes through the functions (definer code), so the
-- totals, the snapshots and the append-only events cannot be edited behind their back.
revoke insert, update, delete, truncate on public.usage_metrics, public.plan_limits, public.plan_rate_limits,
public.tier_snapshots, public.usage_limits, public.usage_events, public.billing_line_items
from authenticated, service_role;
