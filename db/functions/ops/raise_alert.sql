-- private.raise_alert: open an alert unless one is already open for the same condition.
--
-- The partial unique index on alerts(dedupe_key) where resolved_at is null
-- makes this safe under concurrency: many sessions crossing the same threshold
-- at once still leave exactly one open alert. An acknowledged alert is still
-- open; a resolved one is history, and the condition may raise a new one.
-- Returns the new alert's id, or null when it was already open.
create or replace function private.raise_alert(
    type text,
    dedupe_key text,
    message text,
    workspace_id uuid default null,
    severity text default 'warning',
    details jsonb default '{}'
)
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
    insert into public.alerts (type, severity, workspace_id, dedupe_key, message, details)
    values (
        raise_alert.type,
        raise_alert.severity,
        raise_alert.workspace_id,
        raise_alert.dedupe_key,
        raise_alert.message,
        coalesce(raise_alert.details, '{}')
    )
    on conflict (dedupe_key) where resolved_at is null do nothing
    returning id
$$;

comment on function private.raise_alert(text, text, text, uuid, text, jsonb) is
'Open one alert per dedupe_key (returns null when an open alert already exists).';
revoke all on function private.raise_alert(text, text, text, uuid, text, jsonb) from public;
