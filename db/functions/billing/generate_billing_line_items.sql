-- Billing line items: per workspace, period, metric and tier snapshot in force,
-- the quantity, the snapshot's unit price, the amount, and the usage_events they
-- cover (ids first_event_id..last_event_id of that workspace, period, metric and
-- snapshot; event_count of them). A plan change mid-period starts a new snapshot,
-- so usage before it bills at the old price and usage after it at the new one.
-- Regeneration is idempotent: the same events give the same lines, and a line is
-- only rewritten when more events arrived since. amount_minor is quantity times the
-- snapshot's unit price, rounded half up to whole minor units per line (prices per
-- token are fractions of a minor unit); the total is the sum of the lines.
--
-- The figures come from private.usage_period_live: the period totals folded from
-- usage_events (private.fold_usage_rollups) plus the events not folded yet, so a
-- period costs its own totals, not the history, and is exact at any moment.

-- private._generate_billing_line_items: (re)generate the lines of a period, of one
-- workspace or (workspace_id null) of every workspace in one statement.
create or replace function private._generate_billing_line_items(workspace_id uuid, period_start date)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
-- A job's few large statements: JIT compiling them costs more than it saves (seconds on big tables).
set jit = off
as $$
#variable_conflict use_column
declare
    v_changed integer;
begin
    insert into public.billing_line_items as b (
        workspace_id, period_start, metric, tier_snapshot_id, plan_key, quantity, unit_price_minor,
        amount_minor, currency, first_event_id, last_event_id, event_count
    )
    select
        u.workspace_id,
        u.period_start,
        u.metric,
        ts.id,
        ts.plan_key,
        sum(u.quantity),
        (ts.limits -> u.metric ->> 'unit_price_minor')::numeric,
        -- Whole minor units, rounded half up per line: an amount is something that can be charged.
        pg_catalog.round(sum(u.quantity) * (ts.limits -> u.metric ->> 'unit_price_minor')::numeric),
        ts.currency,
        min(u.first_event_id),
        max(u.last_event_id),
        sum(u.event_count)::integer
    from private.usage_period_live as u
    inner join public.tier_snapshots as ts on u.tier_snapshot_id = ts.id
    where u.period_start = _generate_billing_line_items.period_start
        and (_generate_billing_line_items.workspace_id is null or u.workspace_id = _generate_billing_line_items.workspace_id)
    group by u.workspace_id, u.period_start, u.metric, ts.id
    on conflict (workspace_id, period_start, metric, tier_snapshot_id) do update
        set
            quantity = excluded.quantity,
            unit_price_minor = excluded.unit_price_minor,
            amount_minor = excluded.amount_minor,
            first_event_id = excluded.first_event_id,
            last_event_id = excluded.last_event_id,
            event_count = excluded.event_count,
            generated_at = pg_catalog.now()
        -- amount_minor too: a line written before amounts were rounded is rewritten once, rounded.
        where (b.quantity, b.unit_price_minor, b.amount_minor, b.first_event_id, b.last_event_id, b.event_count)
        is distinct from (
            excluded.quantity, excluded.unit_price_minor, excluded.amount_minor, excluded.first_event_id,
            excluded.last_event_id, excluded.event_count
        );
    get diagnostics v_changed = row_count;
    return v_changed;
end
$$;

comment on function private._generate_billing_line_items(uuid, date) is
'(Re)generate the billing_line_items of a period from its usage totals, for one workspace or (null) every '
'workspace; returns lines written.';
revoke all on function private._generate_billing_line_items(uuid, date) from public;

-- private.generate_all_billing_line_items: every workspace with usage in the period
-- (the nightly job, logged in job_runs as billing_line_items).
--
--   select private.generate_all_billing_line_items('2026-11-01');
--   -> {job_run_id, status, period_start, workspaces, lines_written, errors}
--
-- Every workspace's lines in one statement, in a sub-transaction. Should it fail,
-- each workspace is done again as a step of its own: one that fails is recorded in
-- the run's errors (status partial, one job_failure alert) and the others still
-- get their lines. Running it again rewrites nothing unchanged.

create or replace function private.generate_all_billing_line_items(period_start date)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_period date := pg_catalog.date_trunc('month', generate_all_billing_line_items.period_start)::date;
    v_run bigint;
    v_workspace_id uuid;
    v_workspaces integer := 0;
    v_total integer := 0;
    v_errors jsonb := '[]'::jsonb;
    v_state text;
    v_message text;
    v_status text;
begin
    if v_period is null then
        raise exception using errcode = '22023', message = 'invalid_period', detail = 'period_start is null';
    end if;
    v_run := private._job_run_start('billing_line_items', pg_catalog.jsonb_build_object('period_start', v_period));
    begin
        v_total := private._generate_billing_line_items(null, v_period);
        select count(distinct u.workspace_id)::integer
        into v_workspaces
        from private.usage_period_live as u
        where u.period_start = v_period;
    exception when others then
        v_total := 0;
        for v_workspace_id in
            select distinct u.workspace_id
            from private.usage_period_live as u
            where u.period_start = v_period
            order by u.workspace_id
        loop
            begin
                v_total := v_total + private._generate_billing_line_items(v_workspace_id, v_period);
                v_workspaces := v_workspaces + 1;
            exception when others then
                get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
                v_errors := v_errors || private._job_step_error(v_workspace_id::text, v_state, v_message);
            end;
        end loop;
    end;
    v_status := private._job_run_finish(
        v_run,
        pg_catalog.jsonb_build_object(
            'period_start', v_period, 'workspaces', v_workspaces, 'lines_written', v_total
        ),
        v_errors,
        -- A period with no usage at all is a success, not a failure.
        case when v_workspaces > 0 or pg_catalog.jsonb_array_length(v_errors) = 0 then 1 else 0 end
    );
    return pg_catalog.jsonb_build_object(
        'job_run_id', v_run,
        'status', v_status,
        'period_start', v_period,
        'workspaces', v_workspaces,
        'lines_written', v_total,
        'errors', v_errors
    );
end
$$;

comment on function private.generate_all_billing_line_items(date) is
'Regenerate billing_line_items of a period for every workspace with usage in it '
'(pg_cron, nightly; logged in job_runs).';
revoke all on function private.generate_all_billing_line_items(date) from public;

-- public.generate_billing_line_items: the API entry point.
--
--   select public.generate_billing_line_items(workspace_id := ..., period_start := '2026-11-01');
--   -> {workspace_id, period_start, lines_written, total_minor, lines: [{metric, plan_key, quantity,
--       unit_price_minor, amount_minor, currency, first_event_id, last_event_id, event_count}]}
--
-- period_start defaults to the current period (any date is truncated to its month).
-- Who may call: service_role, platform admins (else 42501). PT404 unknown workspace.
create or replace function private._billing_line_items(workspace_id uuid, period_start date default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_period date := coalesce(
        pg_catalog.date_trunc('month', _billing_line_items.period_start)::date, private._usage_period()
    );
    v_written integer;
    v_result jsonb;
begin
    if not (private.is_service_role() or private.is_admin()) then
        raise exception using
            errcode = '42501', message = 'not_allowed', detail = 'for service_role and platform admins';
    end if;
    if not exists (select from public.workspaces as w where w.id = _billing_line_items.workspace_id) then
        raise exception using
            errcode = 'PT404',
            message = 'workspace_not_found',
            detail = pg_catalog.format('workspace %s', _billing_line_items.workspace_id);
    end if;
    v_written := private._generate_billing_line_items(_billing_line_items.workspace_id, v_period);
    select
        pg_catalog.jsonb_build_object(
            'workspace_id', _billing_line_items.workspace_id,
            'period_start', v_period,
            'lines_written', v_written,
            'total_minor', coalesce(sum(b.amount_minor), 0),
            'lines', coalesce(
                pg_catalog.jsonb_agg(
                    pg_catalog.jsonb_build_object(
                        'id', b.id,
                        'metric', b.metric,
                        'plan_key', b.plan_key,
                        'tier_snapshot_id', b.tier_snapshot_id,
                        'quantity', b.quantity,
                        'unit_price_minor', b.unit_price_minor,
                        'amount_minor', b.amount_minor,
                        'currency', b.currency,
                        'first_event_id', b.first_event_id,
                        'last_event_id', b.last_event_id,
                        'event_count', b.event_count
                    )
                    order by b.metric, b.tier_snapshot_id
                ) filter (where b.id is not null),
                '[]'
            )
        )
    into v_result
    from public.billing_line_items as b
    where b.workspace_id = _billing_line_items.workspace_id and b.period_start = v_period;
    return v_result;
end
$$;

comment on function private._billing_line_items(uuid, date) is
'Implementation of public.generate_billing_line_items (definer; checks service_role or admin).';
revoke all on function private._billing_line_items(uuid, date) from public;
grant execute on function private._billing_line_items(uuid, date) to authenticated, service_role;

create or replace function public.generate_billing_line_items(workspace_id uuid, period_start date default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return private._billing_line_items(
        generate_billing_line_items.workspace_id, generate_billing_line_items.period_start
    );
end
$$;

comment on function public.generate_billing_line_items(uuid, date) is
'(Re)generate and return a workspace''s billing lines for a period (idempotent). service_role or admin.';
revoke all on function public.generate_billing_line_items(uuid, date) from public;
grant execute on function public.generate_billing_line_items(uuid, date) to authenticated, service_role;
