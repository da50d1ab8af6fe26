-- record_usage_batch: meter up to 1,000 usages that happened, in one call (service_role).
--
--   select public.record_usage_batch(events := '[
--       {"workspace_id": "...", "metric": "llm_tokens", "quantity": 1834, "idempotency_key": "run:9f2:step:4",
--        "source": "agent-runtime", "occurred_at": "2026-12-03T10:15:02Z"},
--       {"workspace_id": "...", "metric": "messages", "quantity": 1}
--   ]');
--   -> {recorded, duplicates, results: [{idempotency_key, limit_state, duplicate, used}, ...]}
--
-- The batch means exactly what the same record_usage calls would, one after the
-- other in input order, inside one transaction:
-- * each event is recorded (and billed) unless its idempotency_key was used
--   before, in the database or earlier in the batch: then it is a duplicate;
-- * results are in input order; an event's limit_state and used are its period
--   total right after it (a duplicate's: where the total stood at its place);
-- * usage_limits moves by the exact sum, and crossing the soft or hard limit
--   raises the one alert per threshold, period and plan, as record_usage does.
-- Events are usage that already happened: recorded past the hard limit too (see
-- record_usage and authorize_usage). All count in the current billing period;
-- occurred_at (default: now) says when within it the usage happened.
--
-- All or nothing: a malformed event refuses the whole batch with 22023, its
-- zero-based index in DETAIL ('events[3]: ...'), and nothing is written. Also
-- refused whole, naming the index: an unknown workspace (PT404), a key reused
-- with another metric or quantity (PT409). An event is an object with only these
-- fields: workspace_id (uuid), metric (a usage_metrics key), quantity (a JSON
-- number > 0, at most 1e12), and optional idempotency_key (1 to 200 characters),
-- source (at most 200), occurred_at (ISO 8601 with a time zone, in the current
-- period, at most 5 minutes ahead).
--
-- Concurrency: the period rows of the batch are locked in (workspace, metric)
-- order and the events inserted in (workspace, key) order, so batches and single
-- calls never deadlock; same keys sent at once count once, as with record_usage.
-- Errors: 22023 malformed_batch / batch_too_large / malformed_event / unknown_field
-- / invalid_workspace_id / unknown_metric / invalid_quantity / invalid_idempotency_key
-- / invalid_source / invalid_occurred_at, PT404 workspace_not_found, PT409
-- idempotency_conflict.

create or replace function private._record_usage_batch(events jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_max constant integer := 1000;
    v_now timestamptz := pg_catalog.now();
    v_period date := private._usage_period();
    v_count integer;
    v_bad record;
    v_workspace_id uuid;
    -- The batch, parsed once, as parallel arrays in input order (unnest ... with ordinality: i is 1-based).
    v_workspace_ids uuid[];
    v_metrics text[];
    v_quantities numeric[];
    v_keys text[];
    v_sources text[];
    v_occurred timestamptz[];
    v_first boolean[];
    v_inserted text[];
    v_row record;
    v_result jsonb;
begin
    if _record_usage_batch.events is null or pg_catalog.jsonb_typeof(_record_usage_batch.events) <> 'array' then
        raise exception using
            errcode = '22023',
            message = 'malformed_batch',
            detail = pg_catalog.format(
                'events is %s, not a JSON array', coalesce(pg_catalog.jsonb_typeof(_record_usage_batch.events), 'null')
            ),
            hint = 'Send events as a JSON array of {workspace_id, metric, quantity, ...} objects.';
    end if;
    v_count := pg_catalog.jsonb_array_length(_record_usage_batch.events);
    if v_count > v_max then
        raise exception using
            errcode = '22023',
            message = 'batch_too_large',
            detail = pg_catalog.format('%s events; at most %s per batch', v_count, v_max),
            hint = 'Split the events into batches of at most 1,000.';
    end if;
    if v_count = 0 then
        return pg_catalog.jsonb_build_object('recorded', 0, 'duplicates', 0, 'results', '[]'::jsonb);
    end if;

    -- 1. Every event well-formed: the first that is not refuses the batch.
    select p.i, p.word, p.detail
    into v_bad
    from private._usage_batch_problem(_record_usage_batch.events, v_period, v_now) as p;
    if v_bad.word is not null then
        raise exception using
            errcode = '22023',
            message = v_bad.word,
            detail = pg_catalog.format('events[%s]: %s', v_bad.i, v_bad.detail),
            hint = 'Nothing in the batch was recorded; fix the event and send the batch again.';
    end if;

    -- The batch, validated, parsed once into arrays. first: not a repeat of an
    -- earlier event's key.
    select
        pg_catalog.array_agg(e.workspace_id order by e.n),
        pg_catalog.array_agg(e.metric order by e.n),
        pg_catalog.array_agg(e.quantity order by e.n),
        pg_catalog.array_agg(e.idempotency_key order by e.n),
        pg_catalog.array_agg(e.source order by e.n),
        pg_catalog.array_agg(e.occurred_at order by e.n),
        pg_catalog.array_agg(e.first order by e.n)
    into v_workspace_ids, v_metrics, v_quantities, v_keys, v_sources, v_occurred, v_first
    from (
        select
            r.*,
            r.idempotency_key is null
            or pg_catalog.row_number() over (partition by r.workspace_id, r.idempotency_key order by r.n) = 1 as first
        from rows from (
            pg_catalog.jsonb_to_recordset(_record_usage_batch.events) as (
                workspace_id uuid, metric text, quantity numeric, idempotency_key text, source text,
                occurred_at timestamptz
            )
        ) with ordinality as r (workspace_id, metric, quantity, idempotency_key, source, occurred_at, n)
    ) as e;

    -- 2. A key repeated in the batch must repeat the same usage.
    with e as (
        select *
        from rows from (
            pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
            pg_catalog.unnest(v_keys), pg_catalog.unnest(v_first)
        ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, first, i)
        where e.idempotency_key is not null
    )

    select b.i - 1 as i, f.i - 1 as first_i, f.metric, f.quantity
    into v_bad
    from e as b
    inner join e as f
        on b.workspace_id = f.workspace_id and b.idempotency_key = f.idempotency_key and f.first
    where not b.first and (b.metric, b.quantity) is distinct from (f.metric, f.quantity)
    order by b.i
    limit 1;
    if v_bad.i is not null then
        raise exception using
            errcode = 'PT409',
            message = 'idempotency_conflict',
            detail = pg_catalog.format(
                'events[%s]: its key was used by events[%s] for %s %s', v_bad.i, v_bad.first_i, v_bad.quantity,
                v_bad.metric
            ),
            hint = 'Send a new idempotency key for a different usage. Nothing in the batch was recorded.';
    end if;

    -- 3. Every workspace exists.
    select e.i - 1 as i, e.workspace_id
    into v_bad
    from rows from (
        pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
        pg_catalog.unnest(v_keys), pg_catalog.unnest(v_sources), pg_catalog.unnest(v_occurred),
        pg_catalog.unnest(v_first)
    ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
    where not exists (select from public.workspaces as w where w.id = e.workspace_id)
    order by e.i
    limit 1;
    if v_bad.i is not null then
        raise exception using
            errcode = 'PT404',
            message = 'workspace_not_found',
            detail = pg_catalog.format('events[%s]: workspace %s', v_bad.i, v_bad.workspace_id),
            hint = 'Nothing in the batch was recorded.';
    end if;

    -- 4. Open the period where it has no rows yet, as record_usage's slow path does
    --    (workspace row lock, in id order), then check the plan meters each metric.
    for v_workspace_id in
        select distinct e.workspace_id
        from rows from (
        pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
        pg_catalog.unnest(v_keys), pg_catalog.unnest(v_sources), pg_catalog.unnest(v_occurred),
        pg_catalog.unnest(v_first)
    ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
        where not exists (
            select from public.usage_limits as ul
            where ul.workspace_id = e.workspace_id and ul.metric = e.metric and ul.period_start = v_period
        )
        order by e.workspace_id
    loop
        perform 1 from public.workspaces as w where w.id = v_workspace_id for no key update;
        perform private._ensure_usage_period(v_workspace_id, v_period);
    end loop;
    select e.i - 1 as i, e.metric
    into v_bad
    from rows from (
        pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
        pg_catalog.unnest(v_keys), pg_catalog.unnest(v_sources), pg_catalog.unnest(v_occurred),
        pg_catalog.unnest(v_first)
    ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
    where not exists (
        select from public.usage_limits as ul
        where ul.workspace_id = e.workspace_id and ul.metric = e.metric and ul.period_start = v_period
    )
    order by e.i
    limit 1;
    if v_bad.i is not null then
        raise exception using
            errcode = '22023',
            message = 'unknown_metric',
            detail = pg_catalog.format('events[%s]: plan in force has no limits for metric %L', v_bad.i, v_bad.metric),
            hint = 'Nothing in the batch was recorded.';
    end if;

    -- 5. Lock the batch's period rows in (workspace, metric) order: from here the
    --    totals are this transaction's until it commits.
    perform 1
    from public.usage_limits as ul
    where ul.period_start = v_period
        and (ul.workspace_id, ul.metric) in (
            select e.workspace_id, e.metric from rows from (
        pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
        pg_catalog.unnest(v_keys), pg_catalog.unnest(v_sources), pg_catalog.unnest(v_occurred),
        pg_catalog.unnest(v_first)
    ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
        )
    order by ul.workspace_id, ul.metric
    for no key update;

    -- 6. Insert the events (first occurrences of each key), in (workspace, key)
    --    order; a key already in usage_events is skipped: a duplicate.
    with inserted as (
        insert into public.usage_events (
            workspace_id, metric, quantity, period_start, tier_snapshot_id, source, idempotency_key, occurred_at
        )
        select
            e.workspace_id, e.metric, e.quantity, v_period, ul.tier_snapshot_id, e.source, e.idempotency_key,
            coalesce(e.occurred_at, v_now)
        from rows from (
        pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
        pg_catalog.unnest(v_keys), pg_catalog.unnest(v_sources), pg_catalog.unnest(v_occurred),
        pg_catalog.unnest(v_first)
    ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
        inner join public.usage_limits as ul
            on e.workspace_id = ul.workspace_id and e.metric = ul.metric and ul.period_start = v_period
        where e.first
        order by e.workspace_id, e.idempotency_key, e.i
        on conflict (workspace_id, idempotency_key) where idempotency_key is not null do nothing
        returning workspace_id, idempotency_key
    )

    select coalesce(pg_catalog.array_agg(i.workspace_id::text || ' ' || i.idempotency_key), '{}')
    into v_inserted
    from inserted as i
    where i.idempotency_key is not null;

    -- 7. A key already used for other usage refuses the batch (undoing step 6).
    select e.i - 1 as i, u.metric, u.quantity
    into v_bad
    from rows from (
        pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
        pg_catalog.unnest(v_keys), pg_catalog.unnest(v_sources), pg_catalog.unnest(v_occurred),
        pg_catalog.unnest(v_first)
    ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
    inner join public.usage_events as u
        on e.workspace_id = u.workspace_id and e.idempotency_key = u.idempotency_key
    where e.first
        and e.workspace_id::text || ' ' || e.idempotency_key <> all(v_inserted)
        and (u.metric, u.quantity) is distinct from (e.metric, e.quantity)
    order by e.i
    limit 1;
    if v_bad.i is not null then
        raise exception using
            errcode = 'PT409',
            message = 'idempotency_conflict',
            detail = pg_catalog.format(
                'events[%s]: its key was used for %s %s', v_bad.i, v_bad.quantity, v_bad.metric
            ),
            hint = 'Send a new idempotency key for a different usage. Nothing in the batch was recorded.';
    end if;

    -- 8. Add the recorded quantities to their rows; raise the thresholds' alerts.
    for v_row in
        with recorded as (
            select e.workspace_id, e.metric, sum(e.quantity) as total
            from rows from (
        pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
        pg_catalog.unnest(v_keys), pg_catalog.unnest(v_sources), pg_catalog.unnest(v_occurred),
        pg_catalog.unnest(v_first)
    ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
            where e.first
                and (e.idempotency_key is null or e.workspace_id::text || ' ' || e.idempotency_key = any(v_inserted))
            group by e.workspace_id, e.metric
        ),

        updated as (
            update public.usage_limits as ul
            set
                used = ul.used + r.total,
                -- Same expression in every writer of usage_limits (see 20261122060000).
                limit_state = case
                    when ul.used + r.total >= ul.hard_limit then 'blocked'
                    when ul.used + r.total >= ul.soft_limit then 'warning'
                    else 'ok'
                end,
                updated_at = pg_catalog.now()
            from recorded as r
            where ul.workspace_id = r.workspace_id and ul.metric = r.metric and ul.period_start = v_period
            returning ul.workspace_id, ul.metric, ul.used, ul.soft_limit, ul.hard_limit, ul.warning_alert_id,
            ul.blocked_alert_id
        )

        select u.workspace_id, u.metric
        from updated as u
        where (u.used >= u.soft_limit and u.warning_alert_id is null)
            or (u.used >= u.hard_limit and u.blocked_alert_id is null)
        order by u.workspace_id, u.metric
    loop
        perform private._raise_usage_alerts(v_row.workspace_id, v_row.metric, v_period);
    end loop;

    -- 9. The answer, in input order: each event's total right after it.
    select pg_catalog.jsonb_build_object(
        'recorded', pg_catalog.count(*) filter (where s.recorded),
        'duplicates', pg_catalog.count(*) filter (where not s.recorded),
        'results', pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object(
                'idempotency_key', s.idempotency_key,
                'limit_state', case
                    when s.running >= s.hard_limit then 'blocked'
                    when s.running >= s.soft_limit then 'warning'
                    else 'ok'
                end,
                'duplicate', not s.recorded,
                'used', s.running
            )
            order by s.i
        )
    )
    into v_result
    from (
        select
            r.i,
            r.idempotency_key,
            r.recorded,
            ul.soft_limit,
            ul.hard_limit,
            -- The row's total before the batch, plus what the batch recorded up to here.
            ul.used - sum(case when r.recorded then r.quantity else 0 end) over (partition by r.workspace_id, r.metric)
            + sum(case when r.recorded then r.quantity else 0 end) over (
                partition by r.workspace_id, r.metric order by r.i
            ) as running
        from (
            select
                e.*,
                e.first and (
                    e.idempotency_key is null or e.workspace_id::text || ' ' || e.idempotency_key = any(v_inserted)
                ) as recorded
            from rows from (
        pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
        pg_catalog.unnest(v_keys), pg_catalog.unnest(v_sources), pg_catalog.unnest(v_occurred),
        pg_catalog.unnest(v_first)
    ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
        ) as r
        inner join public.usage_limits as ul
            on r.workspace_id = ul.workspace_id and r.metric = ul.metric and ul.period_start = v_period
    ) as s;
    return v_result;
end
$$;

comment on function private._record_usage_batch(jsonb) is
'Implementation of public.record_usage_batch (definer: writes usage_events and usage_limits for up to 1,000 events).';
revoke all on function private._record_usage_batch(jsonb) from public;
grant execute on function private._record_usage_batch(jsonb) to service_role;

-- public.record_usage_batch: the API entry point; see private._record_usage_batch.
-- Who may call: service_role.
create or replace function public.record_usage_batch(events jsonb)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return private._record_usage_batch(record_usage_batch.events);
end
$$;

comment on function public.record_usage_batch(jsonb) is
'Record up to 1,000 usages that happened in one call: {recorded, duplicates, results: [{idempotency_key, '
'limit_state, duplicate, used}]} in input order; a malformed event refuses the batch (22023, its index).';
revoke all on function public.record_usage_batch(jsonb) from public;
grant execute on function public.record_usage_batch(jsonb) to service_role;
