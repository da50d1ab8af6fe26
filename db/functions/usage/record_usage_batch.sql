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
-- Events already happened: recorded past the hard limit too (see authorize_usage).
-- All count in the current period; occurred_at (default now) says when in it.
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
-- Concurrency: events are inserted in (workspace, key) order, then the period
-- rows locked in (workspace, metric) order (see step 5 for single calls): no
-- deadlock with batches or single calls; a key sent twice at once counts once.
-- Errors: 22023 malformed_batch, batch_too_large and per event (see
-- private._usage_batch_parse), PT404 workspace_not_found, PT409 idempotency_conflict.

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
    v_parsed record;
    v_workspace_id uuid;
    -- The batch parsed once, as arrays in input order (ordinality i is 1-based).
    v_workspace_ids uuid[];
    v_metrics text[];
    v_quantities numeric[];
    v_keys text[];
    v_sources text[];
    v_occurred timestamptz[];
    v_first boolean[];
    -- Whether each event was recorded (else a duplicate); filled in at step 5.
    v_recorded boolean[];
    -- The batch's period rows (distinct workspace and metric), in lock order, and their values.
    v_pair_workspaces uuid[];
    v_pair_metrics text[];
    v_pair_snapshots bigint[];
    v_pair_used numeric[];
    v_pair_soft numeric[];
    v_pair_hard numeric[];
    v_rows record;
    v_lock_timeout text;
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

    -- 1. Every event well-formed (the first that is not refuses the batch), parsed
    --    once into arrays. first: not a repeat of an earlier event's key. A
    --    repeated key must repeat the same usage.
    select *
    into v_parsed
    from private._usage_batch_parse(_record_usage_batch.events, v_period, v_now);
    if v_parsed.bad_index is not null then
        raise exception using
            errcode = '22023',
            message = v_parsed.bad_word,
            detail = pg_catalog.format('events[%s]: %s', v_parsed.bad_index, v_parsed.bad_detail),
            hint = 'Nothing in the batch was recorded; fix the event and send the batch again.';
    end if;
    v_workspace_ids := v_parsed.workspace_ids;
    v_metrics := v_parsed.metrics;
    v_quantities := v_parsed.quantities;
    v_keys := v_parsed.keys;
    v_sources := v_parsed.sources;
    v_occurred := v_parsed.occurred;
    v_first := v_parsed.first;
    v_recorded := pg_catalog.array_fill(false, array[v_count]);

    if pg_catalog.array_position(v_first, false) is not null then
        with e as (
            select *
            from rows from (
                pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
                pg_catalog.unnest(v_keys), pg_catalog.unnest(v_first), pg_catalog.unnest(v_recorded)
            ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, first, recorded, i)
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
    end if;

    -- 3. The batch's period rows: its distinct (workspace, metric), in lock order.
    select
        pg_catalog.array_agg(d.workspace_id order by d.workspace_id, d.metric),
        pg_catalog.array_agg(d.metric order by d.workspace_id, d.metric)
    into v_pair_workspaces, v_pair_metrics
    from (
        select distinct e.workspace_id, e.metric
        from rows from (pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics)) as e (workspace_id, metric)
    ) as d;

    -- 4. Each pair's tier snapshot (read without a lock: see step 5). Pairs without
    --    a row yet: their workspace must exist, and the period is opened as
    --    record_usage does (workspace row lock, in id order). A row still missing
    --    then is a metric the plan does not meter.
    for v_attempt in 1..2 loop
        select pg_catalog.array_agg(l.tier_snapshot_id order by p.n)
        into v_pair_snapshots
        from rows from (pg_catalog.unnest(v_pair_workspaces), pg_catalog.unnest(v_pair_metrics))
            with ordinality as p (workspace_id, metric, n)
        left join lateral (
            select ul.tier_snapshot_id from public.usage_limits as ul
            where ul.workspace_id = p.workspace_id and ul.metric = p.metric and ul.period_start = v_period
        ) as l on true;
        exit when pg_catalog.array_position(v_pair_snapshots, null) is null;

        select e.i - 1 as i, e.workspace_id, e.metric
        into v_bad
        from rows from (pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics))
            with ordinality as e (workspace_id, metric, i)
        where e.workspace_id in (
            select p.workspace_id
            from rows from (pg_catalog.unnest(v_pair_workspaces), pg_catalog.unnest(v_pair_snapshots))
                as p (workspace_id, tier_snapshot_id)
            where p.tier_snapshot_id is null
                and (v_attempt = 2 or not exists (select from public.workspaces as w where w.id = p.workspace_id))
        )
            and (v_attempt = 1 or (e.workspace_id, e.metric) in (
                select p.workspace_id, p.metric
                from rows from (
                    pg_catalog.unnest(v_pair_workspaces), pg_catalog.unnest(v_pair_metrics),
                    pg_catalog.unnest(v_pair_snapshots)
                ) as p (workspace_id, metric, tier_snapshot_id)
                where p.tier_snapshot_id is null
            ))
        order by e.i
        limit 1;
        if v_bad.i is not null and v_attempt = 1 then
            raise exception using
                errcode = 'PT404',
                message = 'workspace_not_found',
                detail = pg_catalog.format('events[%s]: workspace %s', v_bad.i, v_bad.workspace_id),
                hint = 'Nothing in the batch was recorded.';
        elsif v_bad.i is not null then
            raise exception using
                errcode = '22023',
                message = 'unknown_metric',
                detail = pg_catalog.format('events[%s]: plan in force has no limits for metric %L', v_bad.i, v_bad.metric),
                hint = 'Nothing in the batch was recorded.';
        end if;
        for v_workspace_id in
            select distinct p.workspace_id
            from rows from (pg_catalog.unnest(v_pair_workspaces), pg_catalog.unnest(v_pair_snapshots))
                as p (workspace_id, tier_snapshot_id)
            where p.tier_snapshot_id is null
            order by p.workspace_id
        loop
            perform 1 from public.workspaces as w where w.id = v_workspace_id for no key update;
            perform private._ensure_usage_period(v_workspace_id, v_period);
        end loop;
    end loop;

    -- 5. Insert the events (in key order), then lock the period rows (in
    --    (workspace, metric) order): the rows are held only for the short end of
    --    the batch, so batches over the same workspaces overlap. Row then key is
    --    record_usage's order: a single call holding a row this batch needs while
    --    waiting for one of its keys (the same usage sent both ways at once), or any
    --    wait long enough to suggest a cycle, makes a wait here time out (200 ms,
    --    under PostgreSQL's 1 s deadlock_timeout); the batch then undoes its inserts
    --    and locks the rows first, as record_usage does. The same happens if a plan
    --    change moved a row to new terms meanwhile.
    v_lock_timeout := pg_catalog.current_setting('lock_timeout');
    begin
        perform pg_catalog.set_config('lock_timeout', '200ms', true);
        v_recorded := private._usage_batch_insert_events(
            v_workspace_ids, v_metrics, v_quantities, v_keys, v_sources, v_occurred, v_first,
            v_pair_workspaces, v_pair_metrics, v_pair_snapshots, v_period, v_now
        );
        select * into v_rows from private._usage_batch_lock_rows(v_pair_workspaces, v_pair_metrics, v_period);
        if v_rows.tier_snapshot_ids is distinct from v_pair_snapshots then
            raise exception using errcode = '40001', message = 'usage_terms_changed';
        end if;
        perform pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
    exception when lock_not_available or serialization_failure then
        perform pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
        select * into v_rows from private._usage_batch_lock_rows(v_pair_workspaces, v_pair_metrics, v_period);
        v_recorded := private._usage_batch_insert_events(
            v_workspace_ids, v_metrics, v_quantities, v_keys, v_sources, v_occurred, v_first,
            v_pair_workspaces, v_pair_metrics, v_rows.tier_snapshot_ids, v_period, v_now
        );
    end;
    -- The rows are this transaction's now: add the batch to them.
    select * into v_rows
    from private._usage_batch_add(v_workspace_ids, v_metrics, v_quantities, v_recorded, v_period);

    -- 6. A key already used for other usage refuses the batch (undoing step 5).
    if pg_catalog.array_position(v_recorded, false) is not null then
        select e.i - 1 as i, u.metric, u.quantity
        into v_bad
        from rows from (
                pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
                pg_catalog.unnest(v_keys), pg_catalog.unnest(v_first), pg_catalog.unnest(v_recorded)
            ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, first, recorded, i)
        inner join public.usage_events as u
            on e.workspace_id = u.workspace_id and e.idempotency_key = u.idempotency_key
        where e.first and not e.recorded
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
    end if;

    -- 7. The thresholds crossed raise their alerts (once per period and plan).
    for v_row in
        select p.workspace_id, p.metric
        from rows from (
            pg_catalog.unnest(v_pair_workspaces), pg_catalog.unnest(v_pair_metrics),
            pg_catalog.unnest(v_rows.used_before), pg_catalog.unnest(v_rows.totals),
            pg_catalog.unnest(v_rows.next_thresholds)
        ) with ordinality as p (workspace_id, metric, used, total, next_threshold, n)
        where p.total > 0 and p.used + p.total >= p.next_threshold
        order by p.n
    loop
        perform private._raise_usage_alerts(v_row.workspace_id, v_row.metric, v_period);
    end loop;
    v_pair_used := v_rows.used_before;
    v_pair_soft := v_rows.soft_limits;
    v_pair_hard := v_rows.hard_limits;

    -- 8. The answer, in input order: each event's total right after it.
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
            e.i,
            e.idempotency_key,
            e.recorded,
            p.soft_limit,
            p.hard_limit,
            -- The row's total before the batch, plus what the batch recorded up to here.
            p.used + sum(case when e.recorded then e.quantity else 0 end) over (
                partition by e.workspace_id, e.metric order by e.i
            ) as running
        from rows from (
            pg_catalog.unnest(v_workspace_ids), pg_catalog.unnest(v_metrics), pg_catalog.unnest(v_quantities),
            pg_catalog.unnest(v_keys), pg_catalog.unnest(v_first), pg_catalog.unnest(v_recorded)
        ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, first, recorded, i)
        inner join rows from (
            pg_catalog.unnest(v_pair_workspaces), pg_catalog.unnest(v_pair_metrics), pg_catalog.unnest(v_pair_used),
            pg_catalog.unnest(v_pair_soft), pg_catalog.unnest(v_pair_hard)
        ) as p (workspace_id, metric, used, soft_limit, hard_limit)
            on e.workspace_id = p.workspace_id and e.metric = p.metric
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
exception when lock_not_available then
    -- A stuck row lock is a 503 lock_timeout (see private._lock_timeout), not a 500.
    return private._lock_timeout(
        'record_usage_batch', pg_catalog.format('%s events', pg_catalog.jsonb_array_length(record_usage_batch.events))
    );
end
$$;

comment on function public.record_usage_batch(jsonb) is
'Record up to 1,000 usages that happened in one call: {recorded, duplicates, results: [{idempotency_key, '
'limit_state, duplicate, used}]} in input order; a malformed event refuses the batch (22023, its index).';
revoke all on function public.record_usage_batch(jsonb) from public;
grant execute on function public.record_usage_batch(jsonb) to service_role;
