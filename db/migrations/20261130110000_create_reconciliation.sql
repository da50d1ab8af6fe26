-- Nightly usage reconciliation: what providers say was used, the tolerances a
-- comparison allows, and every run's report (see public.run_reconciliation).

-- What a provider says a workspace used of a metric on one UTC day: Twilio usage
-- records (call_minutes, sms), Meta conversation reports (messages), LLM billing
-- exports (llm_tokens). Backends load them with service_role; a re-import of the
-- same line (provider, workspace, metric, day) replaces it instead of adding to it:
--   insert ... on conflict (provider, workspace_id, metric, usage_date) do update ...
-- (PostgREST: POST with Prefer: resolution=merge-duplicates). Several providers
-- may report one metric (two LLM vendors); reconciliation adds them up.
create table public.provider_usage_reports (
    id bigint generated always as identity primary key,
    provider text not null check (provider ~ '^[a-z][a-z0-9_]{1,31}$'),
    workspace_id uuid not null references public.workspaces (id),
    metric text not null references public.usage_metrics (key),
    usage_date date not null,
    quantity numeric not null check (quantity >= 0 and quantity <= 1e15 and quantity <> 'NaN'),
    report_ref text check (length(report_ref) between 1 and 200),
    imported_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint provider_usage_reports_line_key unique (provider, workspace_id, metric, usage_date)
);

comment on table public.provider_usage_reports is
'Usage as the providers report it, per provider, workspace, metric and UTC day; loaded by backends '
'(service_role), re-imports upsert on (provider, workspace_id, metric, usage_date). '
'The other side of run_reconciliation.';
comment on column public.provider_usage_reports.usage_date is 'The UTC day the usage happened (the provider''s day).';
comment on column public.provider_usage_reports.report_ref is
'The provider''s id of the report line (Twilio usage record, export row), to find it at the provider.';
comment on column public.provider_usage_reports.imported_at is
'When the line was first imported (kept by re-imports).';
comment on column public.provider_usage_reports.updated_at is 'When a re-import last wrote the line.';

-- Reconciliation reads one metric over a range of days.
create index provider_usage_reports_metric_usage_date_idx on public.provider_usage_reports (metric, usage_date);
create index provider_usage_reports_workspace_id_idx on public.provider_usage_reports (workspace_id, usage_date);

-- How far internal and provider quantities of a metric may differ and still match:
-- |internal - provider| <= greatest(absolute_tolerance, relative_tolerance * greatest(internal, provider)).
-- A metric without a row is compared exactly.
create table public.reconciliation_tolerances (
    metric text primary key references public.usage_metrics (key),
    absolute_tolerance numeric not null default 0 check (absolute_tolerance >= 0 and absolute_tolerance <> 'NaN'),
    relative_tolerance numeric not null default 0 check (relative_tolerance between 0 and 1),
    reports_expected boolean not null default false,
    note text not null,
    updated_at timestamptz not null default now()
);

comment on table public.reconciliation_tolerances is
'Per metric: the absolute and relative difference between internal usage and provider reports that '
'still counts as matched, and whether provider reports are expected every day. '
'Changed by migration or by an operator in SQL.';
comment on column public.reconciliation_tolerances.reports_expected is
'true: the provider reports this metric every day, so it is reconciled in every period and a day of '
'internal usage without a report is missing_provider (an import gap shows). false: the metric is '
'reconciled only in periods where some provider reported it.';

insert into public.reconciliation_tolerances (
    metric, absolute_tolerance, relative_tolerance, reports_expected, note
) values
(
    'call_minutes', 1, 0.02, true,
    'Twilio bills each call leg rounded up to the minute, as call_events record it; a call billed in '
    'another UTC day than its status callback shifts a minute or so between days.'
),
(
    'sms', 1, 0.01, true,
    'Twilio counts segments as sms_events do; a message sent around midnight may land on the other day.'
),
(
    'messages', 0, 0.02, false,
    'Meta reports WhatsApp and Messenger only; web chat messages have no provider report.'
),
(
    'llm_tokens', 1000, 0.01, false,
    'LLM billing exports round per request and arrive a day or two late: reconcile again once loaded.'
);

-- One row per reconciliation run (pg_cron nightly or by hand). Each run reports
-- afresh: re-running a period adds a run with the same counts and items.
create table public.reconciliation_runs (
    id bigint generated always as identity primary key,
    -- Set null when retention deletes the old job run; the report itself is kept.
    job_run_id bigint references public.job_runs (id) on delete set null,
    period_start date not null,
    period_end date not null,
    status text not null default 'running' check (status in ('running', 'succeeded', 'partial', 'failed')),
    matched integer not null default 0 check (matched >= 0),
    mismatched integer not null default 0 check (mismatched >= 0),
    missing_internal integer not null default 0 check (missing_internal >= 0),
    missing_provider integer not null default 0 check (missing_provider >= 0),
    metrics text[] not null default '{}',
    unreconciled_metrics text[] not null default '{}',
    tolerances jsonb not null default '{}' check (jsonb_typeof(tolerances) = 'object'),
    alert_id bigint,
    created_at timestamptz not null default now(),
    finished_at timestamptz,
    constraint reconciliation_runs_period_check check (period_end > period_start),
    constraint reconciliation_runs_finished_when_done check ((status = 'running') = (finished_at is null))
);

comment on table public.reconciliation_runs is
'Every run of run_reconciliation: the period [period_start, period_end) compared, the counts of '
'(workspace, metric, UTC day) matched, mismatched beyond tolerance and missing on either side, the '
'metrics compared and the tolerances applied. Items are in reconciliation_items.';
comment on column public.reconciliation_runs.status is
'succeeded, partial (some metrics failed: see job_runs.errors; their counts are left out) or failed.';
comment on column public.reconciliation_runs.metrics is
'Metrics compared: those with provider reports in the period and those whose reports are expected.';
comment on column public.reconciliation_runs.unreconciled_metrics is
'Metrics with internal usage in the period but no provider coverage: not compared, so not counted.';
comment on column public.reconciliation_runs.tolerances is
'{metric: {absolute, relative, reports_expected}} as applied by this run.';
comment on column public.reconciliation_runs.alert_id is
'The open reconciliation_mismatch alert of the period when something did not match (new or already open).';

create index reconciliation_runs_period_idx on public.reconciliation_runs (period_start, period_end, id desc);
create index reconciliation_runs_job_run_id_idx on public.reconciliation_runs (job_run_id);
create index reconciliation_runs_created_at_idx on public.reconciliation_runs (created_at);

-- The run's report: one row per (workspace, metric, UTC day) that did not match.
create table public.reconciliation_items (
    id bigint generated always as identity primary key,
    run_id bigint not null references public.reconciliation_runs (id) on delete cascade,
    workspace_id uuid not null references public.workspaces (id),
    metric text not null references public.usage_metrics (key),
    usage_date date not null,
    kind text not null check (kind in ('mismatched', 'missing_internal', 'missing_provider')),
    internal_quantity numeric,
    provider_quantity numeric,
    difference numeric not null,
    providers text[] not null default '{}',
    constraint reconciliation_items_line_key unique (run_id, workspace_id, metric, usage_date),
    constraint reconciliation_items_quantities_check check (
        (kind = 'missing_internal') = (internal_quantity is null)
        and (kind = 'missing_provider') = (provider_quantity is null)
    )
);

comment on table public.reconciliation_items is
'The report of a reconciliation run: each (workspace, metric, UTC day) that did not match, with both '
'quantities, difference = internal - provider, and the providers that reported it.';
comment on column public.reconciliation_items.internal_quantity is
'Sum of usage_events.quantity of the day; null when there were none (missing_internal).';
comment on column public.reconciliation_items.provider_quantity is
'Sum over provider_usage_reports of the day; null when no provider reported it (missing_provider).';

create index reconciliation_items_workspace_id_idx on public.reconciliation_items (workspace_id, usage_date);
create index reconciliation_items_metric_idx on public.reconciliation_items (metric);

alter table public.provider_usage_reports enable row level security;
alter table public.reconciliation_tolerances enable row level security;
alter table public.reconciliation_runs enable row level security;
alter table public.reconciliation_items enable row level security;

revoke all on public.provider_usage_reports, public.reconciliation_tolerances, public.reconciliation_runs,
public.reconciliation_items from anon;
revoke insert, update, delete, truncate on public.provider_usage_reports, public.reconciliation_tolerances,
public.reconciliation_runs, public.reconciliation_items from authenticated;
-- Backends load and re-import provider reports (insert, upsert); a report line is
-- evidence, so it is corrected by re-import, never deleted through the API.
revoke delete, truncate on public.provider_usage_reports from service_role;
-- Reports are written only by run_reconciliation (definer), tolerances by
-- migration or an operator in SQL: no API role can forge or edit them.
revoke insert, update, delete, truncate on public.reconciliation_tolerances, public.reconciliation_runs,
public.reconciliation_items from service_role;
