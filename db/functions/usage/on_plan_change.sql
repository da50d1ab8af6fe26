-- private.on_plan_change: a workspace moves to another plan.
--
-- Takes a tier snapshot of the new plan for the current period and moves the
-- period's usage_limits rows to the new plan's soft and hard limits; the same
-- UPDATE re-evaluates limit_state from the new limits, and a threshold
-- the new limits put the workspace over raises its alert (once per period and
-- plan). A row's alerts are its plan's: moving to another plan resolves them
-- ('auto: plan changed to ...'; an upgrade resolves the old plan's usage alerts),
-- and the new plan's threshold raises its own alert, at once when the usage is
-- already over it. Moving back to a plan whose alert of this period was resolved
-- by a plan change reopens that alert (raise_usage_alerts), so a period has one
-- alert per threshold and plan, open while that plan's threshold stands reached.
-- Usage recorded before the change keeps the snapshot it was recorded under, so
-- it still bills at the old prices; usage after it bills at the new snapshot.
-- It does not update workspaces.plan_key: the caller (subscription activation)
-- does that in the same transaction.
--
-- Who may call: definer code only (payments); no API role has EXECUTE.
-- Errors: PT404 workspace_not_found / plan_not_found.
create or replace function private.on_plan_change(workspace_id uuid, new_plan_key text, reason text)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_period date := private.usage_period();
    v_old_plan text;
    v_snapshot public.tier_snapshots%rowtype;
    v_snapshot_id bigint;
    v_metric text;
    v_cleared bigint[];
begin
    -- The workspace row lock serialises this with a first usage of the period
    -- (private.ensure_usage_period runs under the same lock).
    select w.plan_key
    into v_old_plan
    from public.workspaces as w
    where w.id = on_plan_change.workspace_id
    for no key update;
    if not found then
        raise exception using
            errcode = 'PT404',
            message = 'workspace_not_found',
            detail = pg_catalog.format('workspace %s', on_plan_change.workspace_id);
    end if;

    v_snapshot_id := private.take_tier_snapshot(
        on_plan_change.workspace_id, on_plan_change.new_plan_key, v_period, 'plan_change', on_plan_change.reason
    );
    select ts.* into v_snapshot from public.tier_snapshots as ts where ts.id = v_snapshot_id;

    -- Lock this period's rows in metric order so two plan changes never deadlock.
    perform 1
    from public.usage_limits as ul
    where ul.workspace_id = on_plan_change.workspace_id and ul.period_start = v_period
    order by ul.metric
    for no key update;

    -- The alerts the rows forget below (another plan, or a threshold the new
    -- limits put the usage back under): their condition has cleared.
    select coalesce(pg_catalog.array_agg(c.alert_id), '{}')
    into v_cleared
    from public.usage_limits as ul
    inner join pg_catalog.jsonb_each(v_snapshot.limits) as l on ul.metric = l.key
    cross join lateral (
        values
        (case
            when ul.used < (l.value ->> 'soft_limit')::numeric or ul.plan_key <> v_snapshot.plan_key
                then ul.warning_alert_id
        end),
        (case
            when ul.used < (l.value ->> 'hard_limit')::numeric or ul.plan_key <> v_snapshot.plan_key
                then ul.blocked_alert_id
        end)
    ) as c (alert_id)
    where ul.workspace_id = on_plan_change.workspace_id
        and ul.period_start = v_period
        and c.alert_id is not null;

    update public.usage_limits as ul
    set
        plan_key = v_snapshot.plan_key,
        tier_snapshot_id = v_snapshot.id,
        soft_limit = (l.value ->> 'soft_limit')::numeric,
        hard_limit = (l.value ->> 'hard_limit')::numeric,
        limit_state = case
            when ul.used >= (l.value ->> 'hard_limit')::numeric then 'blocked'
            when ul.used >= (l.value ->> 'soft_limit')::numeric then 'warning'
            else 'ok'
        end,
        -- A row's alerts are its plan's (one per threshold, period and plan): another
        -- plan forgets them, and raise_usage_alerts below raises the new plan's for
        -- a threshold already reached (or finds the one it already has).
        warning_alert_id = case
            when ul.used >= (l.value ->> 'soft_limit')::numeric and ul.plan_key = v_snapshot.plan_key
                then ul.warning_alert_id
        end,
        blocked_alert_id = case
            when ul.used >= (l.value ->> 'hard_limit')::numeric and ul.plan_key = v_snapshot.plan_key
                then ul.blocked_alert_id
        end,
        updated_at = pg_catalog.now()
    from pg_catalog.jsonb_each(v_snapshot.limits) as l
    where ul.workspace_id = on_plan_change.workspace_id
        and ul.period_start = v_period
        and ul.metric = l.key;

    update public.alerts as a
    set resolved_at = pg_catalog.now(),
        resolution = pg_catalog.format(
            'auto: plan changed to %s (%s)', v_snapshot.plan_key, on_plan_change.reason
        )
    where a.id = any(v_cleared) and a.resolved_at is null;

    perform private.ensure_usage_period(on_plan_change.workspace_id, v_period);

    for v_metric in
        select ul.metric
        from public.usage_limits as ul
        where ul.workspace_id = on_plan_change.workspace_id
            and ul.period_start = v_period
            and (
                (ul.used >= ul.soft_limit and ul.warning_alert_id is null)
                or (ul.used >= ul.hard_limit and ul.blocked_alert_id is null)
            )
        order by ul.metric
    loop
        perform private.raise_usage_alerts(on_plan_change.workspace_id, v_metric, v_period);
    end loop;

    perform private.audit(
        'plan_change_snapshot',
        'tier_snapshots',
        v_snapshot.id::text,
        on_plan_change.workspace_id,
        pg_catalog.jsonb_build_object('plan_key', v_old_plan),
        pg_catalog.jsonb_build_object('plan_key', v_snapshot.plan_key, 'tier_snapshot_id', v_snapshot.id),
        on_plan_change.reason
    );
end
$$;

comment on function private.on_plan_change(uuid, text, text) is
'Snapshot the new plan''s terms and move the current period''s usage_limits to them (does not set plan_key).';
revoke all on function private.on_plan_change(uuid, text, text) from public;
