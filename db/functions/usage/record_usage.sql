-- record_usage: meter usage that happened (service_role).
--
--   select public.record_usage(workspace_id := ..., metric := 'call_minutes', quantity := 2.5,
--                              idempotency_key := 'call:CA123', source := 'twilio');
--   -> {limit_state, used, soft_limit, hard_limit, duplicate, event_id, metric, period_start}
--
-- Semantics (the API reference, docs/api.md, states them for callers):
-- * What is recorded already happened (a call minute, a sent SMS, tokens an LLM
--   call consumed): it is recorded, billed and moves limit_state, also past the
--   hard limit; the answer's limit_state is then blocked. The hard limit refuses
--   new work before it starts: an app asks public.authorize_usage before starting
--   work (PT402 usage_limit_exceeded once blocked) and records it here after.
-- * Exact under concurrency: one UPDATE of the (workspace, metric, period) row both
--   adds the quantity and takes the row lock, so concurrent records serialise on
--   that row only; the event is inserted under the same lock.
-- * Crossing the soft limit raises exactly one usage_warning, the hard limit one
--   usage_blocked alert per metric, period and plan (see private._raise_usage_alerts).
-- * Idempotency: the same idempotency_key for the workspace counts once; the retry
--   answers the current totals with duplicate = true. The same key with another
--   metric or quantity is PT409 idempotency_conflict.
-- * The hot path is one UPDATE and one INSERT (index lookups only). When the
--   period has no usage_limits row yet (the nightly private.open_usage_periods
--   creates them at period start), the call takes the slow path: validate the
--   metric and workspace, lock the workspace, create the period's rows from the
--   period's tier snapshot, then retry. Concurrent first calls of a period wait
--   for each other on the workspace lock, and every one of them then finds the
--   rows: none is refused.
-- Errors: 22023 (bad quantity, unknown metric, bad key), PT404 workspace_not_found,
-- PT409 idempotency_conflict. A failed call writes nothing.
create or replace function private._record_usage(
    workspace_id uuid,
    metric text,
    quantity numeric,
    idempotency_key text default null,
    source text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_period date := (pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'utc'))::date;
    -- The period row's columns the answer needs, read back by the UPDATE that adds
    -- the quantity (scalars: the hot path copies seven values, not the whole row).
    v_used numeric;
    v_soft_limit numeric;
    v_hard_limit numeric;
    v_limit_state text;
    v_tier_snapshot_id bigint;
    v_warning_alert_id bigint;
    v_blocked_alert_id bigint;
    v_event_id bigint;
    v_original record;
    v_prepared boolean := false;
begin
    if _record_usage.workspace_id is null then
        raise exception using errcode = '22023', message = 'workspace_required', detail = 'workspace_id is null';
    end if;
    if _record_usage.quantity is null or _record_usage.quantity = 'NaN'::numeric
        or _record_usage.quantity <= 0 or _record_usage.quantity > 1e12 then
        raise exception using
            errcode = '22023',
            message = 'invalid_quantity',
            detail = pg_catalog.format('quantity %s', coalesce(_record_usage.quantity::text, 'null')),
            hint = 'quantity must be a finite number greater than 0 and at most 1e12.';
    end if;
    if _record_usage.idempotency_key is not null
        and pg_catalog.length(_record_usage.idempotency_key) not between 1 and 200 then
        raise exception using
            errcode = '22023', message = 'invalid_idempotency_key', hint = 'Use 1 to 200 characters.';
    end if;
    if pg_catalog.length(_record_usage.source) > 200 then
        raise exception using errcode = '22023', message = 'invalid_source', hint = 'Use at most 200 characters.';
    end if;

    loop
        -- Adds the quantity and locks the row.
        update public.usage_limits as ul
        set
            used = ul.used + _record_usage.quantity,
            -- Same expression in every writer of usage_limits (see 20261122060000).
            limit_state = case
                when ul.used + _record_usage.quantity >= ul.hard_limit then 'blocked'
                when ul.used + _record_usage.quantity >= ul.soft_limit then 'warning'
                else 'ok'
            end,
            updated_at = pg_catalog.now()
        where ul.workspace_id = _record_usage.workspace_id
            and ul.metric = _record_usage.metric
            and ul.period_start = v_period
        returning
            ul.used, ul.soft_limit, ul.hard_limit, ul.limit_state, ul.tier_snapshot_id,
            ul.warning_alert_id, ul.blocked_alert_id
        into
            v_used, v_soft_limit, v_hard_limit, v_limit_state, v_tier_snapshot_id,
            v_warning_alert_id, v_blocked_alert_id;
        exit when found;

        if v_prepared then
            raise exception using
                errcode = '22023',
                message = 'unknown_metric',
                detail = pg_catalog.format('plan in force has no limits for metric %L', _record_usage.metric);
        end if;
        if not exists (select from public.usage_metrics as m where m.key = _record_usage.metric) then
            raise exception using
                errcode = '22023',
                message = 'unknown_metric',
                detail = pg_catalog.format('metric %L', _record_usage.metric),
                hint = 'Use a key from public.usage_metrics.';
        end if;
        perform 1 from public.workspaces as w where w.id = _record_usage.workspace_id for no key update;
        if not found then
            raise exception using
                errcode = 'PT404',
                message = 'workspace_not_found',
                detail = pg_catalog.format('workspace %s', _record_usage.workspace_id);
        end if;
        perform private._ensure_usage_period(_record_usage.workspace_id, v_period);
        v_prepared := true;
    end loop;

    insert into public.usage_events (
        workspace_id, metric, quantity, period_start, tier_snapshot_id, source, idempotency_key
    )
    values (
        _record_usage.workspace_id,
        _record_usage.metric,
        _record_usage.quantity,
        v_period,
        v_tier_snapshot_id,
        _record_usage.source,
        _record_usage.idempotency_key
    )
    on conflict (workspace_id, idempotency_key) where idempotency_key is not null do nothing
    returning id into v_event_id;

    if v_event_id is null then
        -- A retry: give the quantity back (we still hold the row lock) and answer duplicate.
        select e.metric, e.quantity
        into v_original
        from public.usage_events as e
        where e.workspace_id = _record_usage.workspace_id
            and e.idempotency_key = _record_usage.idempotency_key;
        if (v_original.metric, v_original.quantity) is distinct from (_record_usage.metric, _record_usage.quantity) then
            raise exception using
                errcode = 'PT409',
                message = 'idempotency_conflict',
                detail = pg_catalog.format(
                    'key %L was used for %s %s', _record_usage.idempotency_key, v_original.quantity, v_original.metric
                ),
                hint = 'Send a new idempotency key for a different usage.';
        end if;
        update public.usage_limits as ul
        set
            used = ul.used - _record_usage.quantity,
            limit_state = case
                when ul.used - _record_usage.quantity >= ul.hard_limit then 'blocked'
                when ul.used - _record_usage.quantity >= ul.soft_limit then 'warning'
                else 'ok'
            end
        where ul.workspace_id = _record_usage.workspace_id
            and ul.metric = _record_usage.metric
            and ul.period_start = v_period
        returning ul.used, ul.limit_state into v_used, v_limit_state;
    elsif (v_used >= v_soft_limit and v_warning_alert_id is null)
        or (v_used >= v_hard_limit and v_blocked_alert_id is null) then
        perform private._raise_usage_alerts(_record_usage.workspace_id, _record_usage.metric, v_period);
    end if;

    return pg_catalog.jsonb_build_object(
        'limit_state', v_limit_state,
        'used', v_used,
        'soft_limit', v_soft_limit,
        'hard_limit', v_hard_limit,
        'duplicate', v_event_id is null,
        'event_id', v_event_id,
        'metric', _record_usage.metric,
        'period_start', v_period
    );
end
$$;

comment on function private._record_usage(uuid, text, numeric, text, text) is
'Implementation of public.record_usage (definer: writes usage_events and usage_limits).';
revoke all on function private._record_usage(uuid, text, numeric, text, text) from public;
grant execute on function private._record_usage(uuid, text, numeric, text, text) to service_role;

-- public.record_usage: the API entry point; see private._record_usage for the rules.
-- Who may call: service_role (backends metering calls, SMS, messages, tokens).
-- PL/pgSQL, not SQL: a SQL function with SET search_path is never inlined and is
-- planned again on every call; PL/pgSQL keeps its plan for the session.
create or replace function public.record_usage(
    workspace_id uuid,
    metric text,
    quantity numeric,
    idempotency_key text default null,
    source text default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return private._record_usage(
        record_usage.workspace_id,
        record_usage.metric,
        record_usage.quantity,
        record_usage.idempotency_key,
        record_usage.source
    );
exception when lock_not_available then
    -- A stuck row lock is a 503 lock_timeout (see private._lock_timeout), not a 500.
    return private._lock_timeout(
        'record_usage', pg_catalog.format('workspace %s metric %s', record_usage.workspace_id, record_usage.metric)
    );
end
$$;

comment on function public.record_usage(uuid, text, numeric, text, text) is
'Record usage that happened: {limit_state, used, soft_limit, hard_limit, duplicate}; recorded past the hard limit too '
'(limit_state blocked). Ask authorize_usage before starting new work.';
revoke all on function public.record_usage(uuid, text, numeric, text, text) from public;
grant execute on function public.record_usage(uuid, text, numeric, text, text) to service_role;
