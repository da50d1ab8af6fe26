-- evaluate_usage_thresholds: where a workspace stands against its limits this period.
--
--   select public.evaluate_usage_thresholds(workspace_id := ...);
--   -> {workspace_id, plan_key, period_start, period_end,
--       metrics: [{metric, used, soft_limit, hard_limit, limit_state}, ...]}
--
-- Reports (never changes) the usage_limits rows of the current period; before the
-- first usage of a period it reports the plan's limits with nothing used.
-- Who may call: service_role, the workspace's members, platform admins (else 42501).
-- Errors: 22023 workspace_id missing, PT404 workspace_not_found.
create or replace function private._evaluate_usage_thresholds(workspace_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_period date := private._usage_period();
    v_plan_key text;
    v_metrics jsonb;
begin
    if _evaluate_usage_thresholds.workspace_id is null then
        raise exception using errcode = '22023', message = 'workspace_required', detail = 'workspace_id is null';
    end if;
    if not (
        private.is_service_role()
        or private.is_workspace_member(_evaluate_usage_thresholds.workspace_id)
        or private.is_admin()
    ) then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = pg_catalog.format('not a member of workspace %s', _evaluate_usage_thresholds.workspace_id);
    end if;
    select w.plan_key into v_plan_key from public.workspaces as w where w.id = _evaluate_usage_thresholds.workspace_id;
    if not found then
        raise exception using
            errcode = 'PT404',
            message = 'workspace_not_found',
            detail = pg_catalog.format('workspace %s', _evaluate_usage_thresholds.workspace_id);
    end if;

    select
        pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object(
                'metric', ul.metric,
                'used', ul.used,
                'soft_limit', ul.soft_limit,
                'hard_limit', ul.hard_limit,
                'limit_state', ul.limit_state,
                'plan_key', ul.plan_key
            )
            order by ul.metric
        )
    into v_metrics
    from public.usage_limits as ul
    where ul.workspace_id = _evaluate_usage_thresholds.workspace_id and ul.period_start = v_period;

    if v_metrics is null then
        select
            pg_catalog.jsonb_agg(
                pg_catalog.jsonb_build_object(
                    'metric', pl.metric,
                    'used', 0,
                    'soft_limit', pl.soft_limit,
                    'hard_limit', pl.hard_limit,
                    'limit_state', 'ok',
                    'plan_key', pl.plan_key
                )
                order by pl.metric
            )
        into v_metrics
        from public.plan_limits as pl
        where pl.plan_key = v_plan_key;
    end if;

    return pg_catalog.jsonb_build_object(
        'workspace_id', _evaluate_usage_thresholds.workspace_id,
        'plan_key', v_plan_key,
        'period_start', v_period,
        'period_end', (v_period + interval '1 month')::date,
        'metrics', coalesce(v_metrics, '[]')
    );
end
$$;

comment on function private._evaluate_usage_thresholds(uuid) is
'Implementation of public.evaluate_usage_thresholds (definer; checks service_role, membership or admin).';
revoke all on function private._evaluate_usage_thresholds(uuid) from public;
grant execute on function private._evaluate_usage_thresholds(uuid) to authenticated, service_role;

-- public.evaluate_usage_thresholds: the API entry point; see the private function.
-- Who may call: service_role, the workspace's members, platform admins.
create or replace function public.evaluate_usage_thresholds(workspace_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return private._evaluate_usage_thresholds(evaluate_usage_thresholds.workspace_id);
end
$$;

comment on function public.evaluate_usage_thresholds(uuid) is
'This period''s usage against the limits: '
'{workspace_id, metrics: [{metric, used, soft_limit, hard_limit, limit_state}]}.';
revoke all on function public.evaluate_usage_thresholds(uuid) from public;
grant execute on function public.evaluate_usage_thresholds(uuid) to authenticated, service_role;
