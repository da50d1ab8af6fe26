-- Alerts carry their resolution: when, by whom (a person; null when the system
-- resolved it) and why. An alert stays open until it is resolved, by its
-- condition clearing or by a platform admin; acknowledging it says someone is on
-- it and does not re-arm the condition. Resolved alerts stay as history.

alter table public.alerts
add column resolved_at timestamptz,
add column resolved_by uuid,
add column resolution text;
-- Not valid here, validated in the next file: adding them checks no existing row
-- under a lock that blocks writes (the rows resolved below satisfy both).
alter table public.alerts
add constraint alerts_resolved_by_fkey foreign key (resolved_by) references auth.users (id) not valid;
alter table public.alerts
add constraint alerts_resolution_check check ((resolved_at is null) = (resolution is null)) not valid;

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

update public.retention_policies
set description = 'resolved alerts, by resolved_at (open alerts are never deleted)', updated_at = now()
where name = 'acknowledged_alerts';
