-- Scheduled jobs: every run logged in job_runs, and the retention rules of the daily cleanup.

-- One row per run of a job (cron or by hand). A job runs in one transaction, so
-- a run's row is committed with its final status; a run that aborts as a whole
-- (cancelled, out of memory) leaves no row here but is in cron.job_run_details.
create table public.job_runs (
    id bigint generated always as identity primary key,
    job_name text not null check (job_name ~ '^[a-z][a-z0-9_]{1,63}$'),
    status text not null default 'running'
    check (status in ('running', 'succeeded', 'partial', 'failed')),
    params jsonb not null default '{}',
    result jsonb not null default '{}',
    errors jsonb not null default '[]' check (jsonb_typeof(errors) = 'array'),
    started_by uuid,
    started_by_role text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    constraint job_runs_finished_when_done check ((status = 'running') = (finished_at is null))
);

comment on table public.job_runs is
'Every run of a scheduled job (retention cleanup, reconciliation, weekly insights), by pg_cron or by hand: '
'parameters, result, and the errors of steps that failed.';
comment on column public.job_runs.status is
'succeeded (every step), partial (some steps failed, see errors), failed (no step succeeded). '
'running only inside the run''s own transaction.';
comment on column public.job_runs.errors is
'One {step, sqlstate, message} per failed step; the other steps of the run still committed.';
comment on column public.job_runs.started_by is
'auth.uid() of the person who ran it by hand; null for pg_cron and service calls.';
comment on column public.job_runs.started_by_role is
'The JWT role of the caller, or the database role for pg_cron and SQL sessions.';

create index job_runs_job_name_started_at_idx on public.job_runs (job_name, started_at desc);
create index job_runs_started_at_idx on public.job_runs (started_at);

-- What the daily cleanup may delete, and after how long. The CHECK lists every
-- kind of row retention may ever touch: audit logs, billing data and usage
-- events are not in it, so no setting can make the job delete them.
create table public.retention_policies (
    name text primary key check (name in (
        'webhook_deliveries',
        'webhook_dead_letters',
        'unknown_phone',
        'acknowledged_alerts',
        'job_runs',
        'rate_limit_counters'
    )),
    keep_days integer not null check (keep_days between 1 and 3650),
    description text not null,
    updated_at timestamptz not null default now()
);

comment on table public.retention_policies is
'How long run_retention_cleanup keeps each kind of expiring row. '
'Audit logs, billing data and usage_events never expire and cannot be listed.';

insert into public.retention_policies (name, keep_days, description) values
('webhook_deliveries', 30, 'finished webhook_queue rows (processed, duplicate, rejected, unknown_phone)'),
('webhook_dead_letters', 90, 'webhook_queue rows in dead_letter, by received_at'),
('unknown_phone', 90, 'unknown_phone numbers not seen since, by last_seen_at'),
('acknowledged_alerts', 180, 'alerts acknowledged before, by acknowledged_at'),
('job_runs', 180, 'job_runs, by started_at'),
('rate_limit_counters', 1, 'private.rate_limit_counters windows, by window_start');

alter table public.job_runs enable row level security;
alter table public.retention_policies enable row level security;

-- Jobs write these through their functions; platform staff read them (policies).
revoke all on public.job_runs, public.retention_policies from anon;
revoke insert, update, delete, truncate on public.job_runs, public.retention_policies from authenticated;
-- Retention settings change by migration or by an operator in SQL, never through the API.
revoke insert, update, delete, truncate on public.retention_policies from service_role;
