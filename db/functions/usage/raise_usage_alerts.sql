-- private._raise_usage_alerts: raise the usage_warning / usage_blocked alert of a
-- workspace, metric and period once its usage_limits row has reached the threshold.
--
-- Exactly one alert per threshold per period and plan: the caller holds the row
-- lock (record_usage's UPDATE or on_plan_change), so only one session at a time
-- gets here for a row, and the alert's id is stored on the row (warning_alert_id,
-- blocked_alert_id): once set, the period never raises that alert again, even
-- after someone acknowledges or resolves it, until a plan change puts the usage
-- back under the threshold (on_plan_change resolves the alert and clears the id).
-- A period's alerts resolve when the period ends (private.resolve_cleared_alerts). The dedupe key names the period
-- and the plan, so raise_alert's open-alert uniqueness is a second line of
-- defence: a new plan's threshold is not mistaken for the old one's, and moving
-- back to a plan whose alert is still open raises no second one.
create or replace function private._raise_usage_alerts(workspace_id uuid, metric text, period_start date)
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
    where ul.workspace_id = _raise_usage_alerts.workspace_id
        and ul.metric = _raise_usage_alerts.metric
        and ul.period_start = _raise_usage_alerts.period_start;
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
        if v_alert_id is null then
            select a.id into v_alert_id from public.alerts as a where a.dedupe_key = v_key order by a.id desc limit 1;
        end if;
        v_row.warning_alert_id := v_alert_id;
    end if;

    if v_row.used >= v_row.hard_limit and v_row.blocked_alert_id is null then
        v_key := pg_catalog.format(
            'usage_blocked:%s:%s:%s:%s', v_row.workspace_id, v_row.metric, v_row.period_start, v_row.plan_key
        );
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
        if v_alert_id is null then
            select a.id into v_alert_id from public.alerts as a where a.dedupe_key = v_key order by a.id desc limit 1;
        end if;
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

comment on function private._raise_usage_alerts(uuid, text, date) is
'Raise the period''s usage_warning / usage_blocked alert once the threshold is reached (once per period).';
revoke all on function private._raise_usage_alerts(uuid, text, date) from public;
