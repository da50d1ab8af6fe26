-- authorize_usage: may a workspace start new work that will use a metric? (service_role)
--
--   select public.authorize_usage(workspace_id := ..., metric := 'call_minutes');
--   select public.authorize_usage(workspace_id := ..., metric := 'llm_tokens', quantity := 4000);
--   -> {allowed: true, limit_state, used, soft_limit, hard_limit, remaining, metric, period_start}
--
-- The hard limit refuses new work before it starts: an app asks here before it
-- starts a call, sends a message or calls an LLM, and records what was used
-- with record_usage (or record_usage_batch) after. Refused with PT402
-- usage_limit_exceeded when the period's usage has reached the hard limit, or
-- when quantity (the work's expected usage, optional) would take it past it.
-- Writes nothing: usage already under way is recorded whatever this said.
-- Errors: 22023 workspace_required / invalid_quantity / unknown_metric,
-- PT404 workspace_not_found, PT402 usage_limit_exceeded.
create or replace function private._authorize_usage(workspace_id uuid, metric text, quantity numeric default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_period date := private._usage_period();
    v_used numeric;
    v_soft_limit numeric;
    v_hard_limit numeric;
    v_plan_key text;
begin
    if _authorize_usage.workspace_id is null then
        raise exception using errcode = '22023', message = 'workspace_required', detail = 'workspace_id is null';
    end if;
    if _authorize_usage.quantity is not null and (
        _authorize_usage.quantity = 'NaN'::numeric or _authorize_usage.quantity <= 0
        or _authorize_usage.quantity > 1e12
    ) then
        raise exception using
            errcode = '22023',
            message = 'invalid_quantity',
            detail = pg_catalog.format('quantity %s', _authorize_usage.quantity),
            hint = 'quantity is optional; when given, a finite number greater than 0 and at most 1e12.';
    end if;

    select ul.used, ul.soft_limit, ul.hard_limit
    into v_used, v_soft_limit, v_hard_limit
    from public.usage_limits as ul
    where ul.workspace_id = _authorize_usage.workspace_id
        and ul.metric = _authorize_usage.metric
        and ul.period_start = v_period;
    if not found then
        -- Nothing used this period yet: the limits of the period's terms, else the plan's.
        if not exists (select from public.usage_metrics as m where m.key = _authorize_usage.metric) then
            raise exception using
                errcode = '22023',
                message = 'unknown_metric',
                detail = pg_catalog.format('metric %L', _authorize_usage.metric),
                hint = 'Use a key from public.usage_metrics.';
        end if;
        select w.plan_key into v_plan_key from public.workspaces as w where w.id = _authorize_usage.workspace_id;
        if not found then
            raise exception using
                errcode = 'PT404',
                message = 'workspace_not_found',
                detail = pg_catalog.format('workspace %s', _authorize_usage.workspace_id);
        end if;
        select (ts.limits -> _authorize_usage.metric ->> 'soft_limit')::numeric,
            (ts.limits -> _authorize_usage.metric ->> 'hard_limit')::numeric
        into v_soft_limit, v_hard_limit
        from public.tier_snapshots as ts
        where ts.workspace_id = _authorize_usage.workspace_id and ts.period_start = v_period
        order by ts.id desc
        limit 1;
        if not found then
            select pl.soft_limit, pl.hard_limit
            into v_soft_limit, v_hard_limit
            from public.plan_limits as pl
            where pl.plan_key = v_plan_key and pl.metric = _authorize_usage.metric;
        end if;
        if v_hard_limit is null then
            raise exception using
                errcode = '22023',
                message = 'unknown_metric',
                detail = pg_catalog.format('plan in force has no limits for metric %L', _authorize_usage.metric);
        end if;
        v_used := 0;
    end if;

    if v_used >= v_hard_limit or v_used + coalesce(_authorize_usage.quantity, 0) > v_hard_limit then
        raise exception using
            errcode = 'PT402',
            message = 'usage_limit_exceeded',
            detail = pg_catalog.format(
                'workspace %s metric %s period %s: used %s of hard limit %s%s',
                _authorize_usage.workspace_id, _authorize_usage.metric, v_period, v_used, v_hard_limit,
                case when _authorize_usage.quantity is not null then ', requested ' || _authorize_usage.quantity end
            ),
            hint = 'Upgrade the plan or wait for the next billing period.';
    end if;

    return pg_catalog.jsonb_build_object(
        'allowed', true,
        'limit_state', case when v_used >= v_soft_limit then 'warning' else 'ok' end,
        'used', v_used,
        'soft_limit', v_soft_limit,
        'hard_limit', v_hard_limit,
        'remaining', v_hard_limit - v_used,
        'metric', _authorize_usage.metric,
        'period_start', v_period
    );
end
$$;

comment on function private._authorize_usage(uuid, text, numeric) is
'Implementation of public.authorize_usage (definer: reads usage_limits and the period''s terms).';
revoke all on function private._authorize_usage(uuid, text, numeric) from public;
grant execute on function private._authorize_usage(uuid, text, numeric) to service_role;

-- public.authorize_usage: the API entry point; see private._authorize_usage.
-- Who may call: service_role (the backend, before it starts work for a workspace).
create or replace function public.authorize_usage(workspace_id uuid, metric text, quantity numeric default null)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return private._authorize_usage(authorize_usage.workspace_id, authorize_usage.metric, authorize_usage.quantity);
end
$$;

comment on function public.authorize_usage(uuid, text, numeric) is
'Before starting work: {allowed, limit_state, used, soft_limit, hard_limit, remaining}, or PT402 '
'usage_limit_exceeded once the hard limit is reached (or quantity would pass it). Writes nothing.';
revoke all on function public.authorize_usage(uuid, text, numeric) from public;
grant execute on function public.authorize_usage(uuid, text, numeric) to service_role;
