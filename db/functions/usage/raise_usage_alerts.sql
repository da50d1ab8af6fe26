-- private.usage_alert_of: the id of a workspace's usage alert with this dedupe key,
-- open or not (the newest), or null. Through alerts_workspace_id_idx: a workspace's
-- alerts, not the whole table.
create or replace function private.usage_alert_of(workspace_id uuid, dedupe_key text)
returns bigint
language sql
stable
security definer
set search_path = ''
as $$
    select a.id
    from public.alerts as a
    where a.workspace_id = usage_alert_of.workspace_id and a.dedupe_key = usage_alert_of.dedupe_key
    order by a.id desc
    limit 1
$$;

comment on function private.usage_alert_of(uuid, text) is
'The newest alert of a workspace with this dedupe key, acknowledged or not (null when none).';
revoke all on function private.usage_alert_of(uuid, text) from public;

-- private.reopen_usage_alert: reopen a usage alert that a plan change resolved,
-- when its plan is back and its threshold still reached (the condition holds
-- again). The resolution is kept in details.reopened (when, and what it said).
create or replace function private.reopen_usage_alert(alert_id bigint)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
    update public.alerts as a
    set
        details = a.details || pg_catalog.jsonb_build_object(
            'reopened', coalesce(a.details -> 'reopened', '[]'::jsonb)
            || pg_catalog.jsonb_build_array(
                pg_catalog.jsonb_build_object('at', pg_catalog.now(), 'resolved_at', a.resolved_at, 'resolution', a.resolution)
            )
        ),
        resolved_at = null,
        resolved_by = null,
        resolution = null
    where a.id = reopen_usage_alert.alert_id
        and a.resolved_at is not null
        and a.resolution like 'auto: plan changed to %'
$$;

comment on function private.reopen_usage_alert(bigint) is
'Reopen a usage alert resolved by a plan change whose plan is back with the threshold still reached.';
revoke all on function private.reopen_usage_alert(bigint) from public;

-- private.raise_usage_alerts: raise the usage_warning / usage_blocked alert of a
-- workspace, metric and period once its usage_limits row has reached the threshold.
--
-- Exactly one alert per threshold, period and plan: the caller holds the row
-- lock (record_usage's UPDATE or on_plan_change), so only one session at a time
-- gets here for a row, and the alert's id is stored on the row (warning_alert_id,
-- blocked_alert_id) while the row stays on that plan. The dedupe key names the
-- period and the plan, and an alert that key already has is reused rather than
-- raised again: acknowledging, resolving, or moving to another plan and back never
-- makes a second alert for the same period and plan. An alert a plan change
-- resolved (on_plan_change) is reopened when the plan comes back with its
-- threshold still reached; one an admin resolved stays resolved for the period.
-- A period's alerts resolve when the period ends (private.resolve_cleared_alerts).
create or replace function private.raise_usage_alerts(workspace_id uuid, metric text, period_start date)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_row public.usage_limits%rowtype;
    v_key text;
    v_alert_id bigint;
    v_details jsonb;
begin
    select ul.*
    into v_row
    from public.usage_limits as ul
    where ul.workspace_id = raise_usage_alerts.workspace_id
        and ul.metric = raise_usage_alerts.metric
        and ul.period_start = raise_usage_alerts.period_start;
    if not found then
        return;
    end if;
    v_details := pg_catalog.jsonb_build_object(
        'metric', v_row.metric,
        'period_start', v_row.period_start,
        'used', v_row.used,
        'soft_limit', v_row.soft_limit,
        'hard_limit', v_row.hard_limit,
        'plan_key', v_row.plan_key
    );

    if v_row.used >= v_row.soft_limit and v_row.warning_alert_id is null then
        v_key := pg_catalog.format(
            'usage_warning:%s:%s:%s:%s', v_row.workspace_id, v_row.metric, v_row.period_start, v_row.plan_key
        );
        -- The period and plan had this alert already (acknowledged since, or the plan
        -- moved away and back): it stays the one.
        v_alert_id := private.usage_alert_of(v_row.workspace_id, v_key);
        if v_alert_id is null then
            v_alert_id := private.raise_alert(
                'usage_warning',
                v_key,
                pg_catalog.format(
                    '%s usage reached the soft limit: %s of %s this period', v_row.metric, v_row.used, v_row.soft_limit
                ),
                v_row.workspace_id,
                'warning',
                v_details
            );
        end if;
        if v_alert_id is null then
            -- Raised by a concurrent session an instant ago.
            v_alert_id := private.usage_alert_of(v_row.workspace_id, v_key);
        end if;
        perform private.reopen_usage_alert(v_alert_id);
        v_row.warning_alert_id := v_alert_id;
    end if;

    if v_row.used >= v_row.hard_limit and v_row.blocked_alert_id is null then
        v_key := pg_catalog.format(
            'usage_blocked:%s:%s:%s:%s', v_row.workspace_id, v_row.metric, v_row.period_start, v_row.plan_key
        );
        -- The period and plan had this alert already (acknowledged since, or the plan
        -- moved away and back): it stays the one.
        v_alert_id := private.usage_alert_of(v_row.workspace_id, v_key);
        if v_alert_id is null then
            v_alert_id := private.raise_alert(
                'usage_blocked',
                v_key,
                pg_catalog.format(
                    '%s usage reached the hard limit: %s of %s this period; new work is refused (authorize_usage)',
                    v_row.metric, v_row.used, v_row.hard_limit
                ),
                v_row.workspace_id,
                'critical',
                v_details
            );
        end if;
        if v_alert_id is null then
            -- Raised by a concurrent session an instant ago.
            v_alert_id := private.usage_alert_of(v_row.workspace_id, v_key);
        end if;
        perform private.reopen_usage_alert(v_alert_id);
        v_row.blocked_alert_id := v_alert_id;
    end if;

    update public.usage_limits as ul
    set warning_alert_id = v_row.warning_alert_id, blocked_alert_id = v_row.blocked_alert_id
    where ul.workspace_id = v_row.workspace_id
        and ul.metric = v_row.metric
        and ul.period_start = v_row.period_start
        and (ul.warning_alert_id, ul.blocked_alert_id) is distinct from (v_row.warning_alert_id, v_row.blocked_alert_id);
end
$$;

comment on function private.raise_usage_alerts(uuid, text, date) is
'Raise the period''s usage_warning / usage_blocked alert once the threshold is reached (once per period).';
revoke all on function private.raise_usage_alerts(uuid, text, date) from public;
