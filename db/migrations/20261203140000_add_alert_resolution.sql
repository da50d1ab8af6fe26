-- Alerts carry their resolution: when, by whom (a person; null when the system
-- resolved it) and why. An alert stays open until it is resolved, by its
-- condition clearing or by a platform admin; acknowledging it says someone is on
-- it and does not re-arm the condition. Resolved alerts stay as history.

alter table public.alerts
add column resolved_at timestamptz,
add column resolved_by uuid references auth.users (id),
add column resolution text,
add constraint alerts_resolution_check check ((resolved_at is null) = (resolution is null));

comment on table public.alerts is
'Operational alerts. One open (unresolved) alert per dedupe_key: a condition that persists raises it once; '
'it is resolved when the condition clears or by a platform admin, and kept as history.';
comment on column public.alerts.acknowledged_at is
'When someone took the alert on (acknowledge_alert, or a workspace admin). An acknowledged alert stays open.';
comment on column public.alerts.resolved_at is
'When the alert was resolved; null while it is open. Retention expires resolved alerts only.';
comment on column public.alerts.resolved_by is
'The platform admin who resolved it (resolve_alert); null when the system resolved it.';
comment on column public.alerts.resolution is
'Who or what resolved it and why: ''auto: ...'' when its condition cleared, else the admin''s note.';

-- Alerts acknowledged so far were closed by their acknowledgement: they are the
-- resolved history now, so the open-alert uniqueness below holds.
update public.alerts
set resolved_at = acknowledged_at, resolved_by = acknowledged_by, resolution = 'acknowledged'
where acknowledged_at is not null;

-- The dedupe point moves from "not acknowledged" to "not resolved".
drop index public.alerts_open_dedupe_key_idx;
create unique index alerts_open_dedupe_key_idx on public.alerts (dedupe_key) where resolved_at is null;
create index alerts_resolved_by_idx on public.alerts (resolved_by);
-- The condition sweep and the console read the open alerts of a type.
create index alerts_open_type_idx on public.alerts (type, id) where resolved_at is null;

update public.retention_policies
set description = 'resolved alerts, by resolved_at (open alerts are never deleted)', updated_at = now()
where name = 'acknowledged_alerts';

-- Refusals of the rate limiter per workspace, bucket and minute: the monitoring
-- signal of 429s counts them (public.monitoring_signals). UNLOGGED like the
-- counters themselves: a count lost in a crash costs a few minutes of a graph.
-- Retention prunes it with the counters (rate_limit_counters, by minute).
create unlogged table private.rate_limit_refusals (
    workspace_id uuid not null,
    bucket text not null,
    minute timestamptz not null,
    refusals integer not null check (refusals > 0),
    primary key (workspace_id, bucket, minute)
);
comment on table private.rate_limit_refusals is
'Requests the rate limiter refused (HTTP 429), per workspace, bucket and minute (unlogged; monitoring only).';
create index rate_limit_refusals_minute_idx on private.rate_limit_refusals (minute);
revoke all on private.rate_limit_refusals from public, anon, authenticated, service_role;
