-- Tier snapshots: the terms (limits, prices, rate limits) of a plan frozen for one
-- workspace and billing period. Internal helpers of record_usage and
-- private.on_plan_change; definer code only (no API role may call them).

-- private.usage_period: the billing period containing now (calendar month, UTC).
create or replace function private.usage_period()
returns date
language sql
stable
set search_path = ''
as $$
    select (pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc'))::date
$$;

comment on function private.usage_period() is 'First day of the current billing period (calendar month, UTC).';
revoke all on function private.usage_period() from public;

-- private.take_tier_snapshot: copy a plan's limits, prices and rate limits into a new
-- tier_snapshots row for the workspace and period; returns its id.
create or replace function private.take_tier_snapshot(
    workspace_id uuid,
    plan_key text,
    period_start date,
    reason text,
    note text default null
)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_id bigint;
begin
    insert into public.tier_snapshots (workspace_id, period_start, plan_key, currency, limits, rate_limits, reason, note)
    select
        take_tier_snapshot.workspace_id,
        take_tier_snapshot.period_start,
        p.key,
        p.currency,
        coalesce((
            select
                pg_catalog.jsonb_object_agg(
                    pl.metric,
                    pg_catalog.jsonb_build_object(
                        'soft_limit', pl.soft_limit,
                        'hard_limit', pl.hard_limit,
                        'unit_price_minor', pl.unit_price_minor
                    )
                )
            from public.plan_limits as pl
            where pl.plan_key = p.key
        ), '{}'),
        coalesce((
            select
                pg_catalog.jsonb_object_agg(
                    prl.bucket,
                    pg_catalog.jsonb_build_object(
                        'max_requests', prl.max_requests, 'window_seconds', prl.window_seconds
                    )
                )
            from public.plan_rate_limits as prl
            where prl.plan_key = p.key
        ), '{}'),
        take_tier_snapshot.reason,
        take_tier_snapshot.note
    from public.plans as p
    where p.key = take_tier_snapshot.plan_key
    returning id into v_id;
    if v_id is null then
        raise exception using
            errcode = 'PT404',
            message = 'plan_not_found',
            detail = pg_catalog.format('no plan with key %L', take_tier_snapshot.plan_key),
            hint = 'Use a key from public.plans.';
    end if;
    return v_id;
end
$$;

comment on function private.take_tier_snapshot(uuid, text, date, text, text) is
'Freeze a plan''s limits, prices and rate limits for a workspace and period (new tier_snapshots row).';
revoke all on function private.take_tier_snapshot(uuid, text, date, text, text) from public;

-- private.ensure_usage_period: make sure the workspace has a tier snapshot and one
-- usage_limits row per metric for the period. The caller holds the workspace row
-- lock (FOR NO KEY UPDATE), so two first usages of a period cannot both snapshot.
-- Returns the id of the snapshot in force.
create or replace function private.ensure_usage_period(workspace_id uuid, period_start date)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_snapshot public.tier_snapshots%rowtype;
    v_id bigint;
begin
    select ts.*
    into v_snapshot
    from public.tier_snapshots as ts
    where ts.workspace_id = ensure_usage_period.workspace_id
        and ts.period_start = ensure_usage_period.period_start
    order by ts.id desc
    limit 1;
    if not found then
        v_id := private.take_tier_snapshot(
            ensure_usage_period.workspace_id,
            (select w.plan_key from public.workspaces as w where w.id = ensure_usage_period.workspace_id),
            ensure_usage_period.period_start,
            'period_start'
        );
        select ts.* into v_snapshot from public.tier_snapshots as ts where ts.id = v_id;
    end if;

    insert into public.usage_limits (
        workspace_id, metric, period_start, period_end, plan_key, tier_snapshot_id, soft_limit, hard_limit,
        limit_state
    )
    select
        ensure_usage_period.workspace_id,
        l.key,
        ensure_usage_period.period_start,
        (ensure_usage_period.period_start + interval '1 month')::date,
        v_snapshot.plan_key,
        v_snapshot.id,
        (l.value ->> 'soft_limit')::numeric,
        (l.value ->> 'hard_limit')::numeric,
        -- A new period starts at zero (the same expression as every writer's).
        case
            when 0 >= (l.value ->> 'hard_limit')::numeric then 'blocked'
            when 0 >= (l.value ->> 'soft_limit')::numeric then 'warning'
            else 'ok'
        end
    from pg_catalog.jsonb_each(v_snapshot.limits) as l
    on conflict on constraint usage_limits_pkey do nothing;
    return v_snapshot.id;
end
$$;

comment on function private.ensure_usage_period(uuid, date) is
'Snapshot the plan at period start (once) and create the period''s usage_limits rows. Caller locks the workspace.';
revoke all on function private.ensure_usage_period(uuid, date) from public;
