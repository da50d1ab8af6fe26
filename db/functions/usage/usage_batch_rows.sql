-- The two writes of record_usage_batch that take locks: the batch's period rows
-- (private.usage_batch_lock_rows) and its events' idempotency keys
-- (private.usage_batch_insert_events). Definer code only (record_usage_batch).

-- private.usage_batch_lock_rows: lock the usage_limits rows of the given
-- (workspace, metric) pairs of the period, in the order given (the batch passes
-- them sorted, so concurrent batches never deadlock), and read them. Arrays are
-- aligned with the pairs; a pair without a row has nulls. next_thresholds: the
-- lowest threshold whose alert the period has not raised yet (null: both raised).
create or replace function private.usage_batch_lock_rows(
    workspace_ids uuid[],
    metrics text[],
    period_start date,
    out tier_snapshot_ids bigint[],
    out used numeric[],
    out soft_limits numeric[],
    out hard_limits numeric[],
    out next_thresholds numeric[]
)
language plpgsql
volatile
set search_path = ''
as $$
begin
    select
        pg_catalog.array_agg(l.tier_snapshot_id order by p.n),
        pg_catalog.array_agg(l.used order by p.n),
        pg_catalog.array_agg(l.soft_limit order by p.n),
        pg_catalog.array_agg(l.hard_limit order by p.n),
        pg_catalog.array_agg(l.next_threshold order by p.n)
    into tier_snapshot_ids, used, soft_limits, hard_limits, next_thresholds
    from rows from (
        pg_catalog.unnest(usage_batch_lock_rows.workspace_ids), pg_catalog.unnest(usage_batch_lock_rows.metrics)
    ) with ordinality as p (workspace_id, metric, n)
    -- One index probe and lock per pair, in the pairs' order.
    left join lateral (
        select ul.tier_snapshot_id, ul.used, ul.soft_limit, ul.hard_limit, case
                when ul.warning_alert_id is null then ul.soft_limit
                when ul.blocked_alert_id is null then ul.hard_limit
            end as next_threshold
        from public.usage_limits as ul
        where ul.workspace_id = p.workspace_id
            and ul.metric = p.metric
            and ul.period_start = usage_batch_lock_rows.period_start
        for no key update
    ) as l on true;
end
$$;

comment on function private.usage_batch_lock_rows(uuid[], text[], date) is
'Lock and read a usage batch''s period rows in the order given (arrays aligned with the pairs).';
revoke all on function private.usage_batch_lock_rows(uuid[], text[], date) from public;

-- private.usage_batch_insert_events: insert a batch's events (the first
-- occurrence of each key; first[i]), citing the tier snapshot of their period
-- row (pair_snapshot_ids, aligned with the pairs), in (workspace, key) order so
-- concurrent batches never deadlock on keys. A key already in usage_events is
-- skipped. Returns, per event in input order, whether it was recorded.
create or replace function private.usage_batch_insert_events(
    workspace_ids uuid[],
    metrics text[],
    quantities numeric[],
    keys text[],
    sources text[],
    occurred timestamptz[],
    first boolean[],
    pair_workspace_ids uuid[],
    pair_metrics text[],
    pair_snapshot_ids bigint[],
    period_start date,
    now timestamptz
)
returns boolean[]
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_recorded boolean[];
begin
    with inserted as (
        insert into public.usage_events (
            workspace_id, metric, quantity, period_start, tier_snapshot_id, source, idempotency_key, occurred_at
        )
        select
            e.workspace_id, e.metric, e.quantity, usage_batch_insert_events.period_start, p.tier_snapshot_id,
            e.source, e.idempotency_key, coalesce(e.occurred_at, usage_batch_insert_events.now)
        from rows from (
            pg_catalog.unnest(usage_batch_insert_events.workspace_ids),
            pg_catalog.unnest(usage_batch_insert_events.metrics),
            pg_catalog.unnest(usage_batch_insert_events.quantities),
            pg_catalog.unnest(usage_batch_insert_events.keys),
            pg_catalog.unnest(usage_batch_insert_events.sources),
            pg_catalog.unnest(usage_batch_insert_events.occurred),
            pg_catalog.unnest(usage_batch_insert_events.first)
        ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
        inner join rows from (
            pg_catalog.unnest(usage_batch_insert_events.pair_workspace_ids),
            pg_catalog.unnest(usage_batch_insert_events.pair_metrics),
            pg_catalog.unnest(usage_batch_insert_events.pair_snapshot_ids)
        ) as p (workspace_id, metric, tier_snapshot_id)
            on e.workspace_id = p.workspace_id and e.metric = p.metric
        where e.first
        order by e.workspace_id, e.idempotency_key, e.i
        on conflict (workspace_id, idempotency_key) where idempotency_key is not null do nothing
        returning workspace_id, idempotency_key
    )

    select pg_catalog.array_agg(e.first and (e.idempotency_key is null or i.workspace_id is not null) order by e.i)
    into v_recorded
    from rows from (
        pg_catalog.unnest(usage_batch_insert_events.workspace_ids),
        pg_catalog.unnest(usage_batch_insert_events.keys),
        pg_catalog.unnest(usage_batch_insert_events.first)
    ) with ordinality as e (workspace_id, idempotency_key, first, i)
    left join inserted as i on e.workspace_id = i.workspace_id and e.idempotency_key = i.idempotency_key;
    return v_recorded;
end
$$;

comment on function private.usage_batch_insert_events(
    uuid[], text[], numeric[], text[], text[], timestamptz[], boolean[], uuid[], text[], bigint[], date, timestamptz
) is
'Insert a usage batch''s events in key order, skipping keys already used; returns which were recorded.';
revoke all on function private.usage_batch_insert_events(
    uuid[], text[], numeric[], text[], text[], timestamptz[], boolean[], uuid[], text[], bigint[], date, timestamptz
) from public;

-- private.usage_batch_add: add a batch's recorded quantities to its period rows
-- and return per (workspace, metric) pair of the events, in (workspace, metric)
-- order (record_usage_batch's order of them): the row's tier snapshot, its total
-- before the batch, its limits, the lowest threshold whose alert the period has
-- not raised yet, and what the batch added. One UPDATE of every pair's row (a
-- pair with nothing recorded is added zero). The caller has locked the rows
-- (private.usage_batch_lock_rows, in order), so the plan's order does not matter.
create or replace function private.usage_batch_add(
    workspace_ids uuid[],
    metrics text[],
    quantities numeric[],
    recorded boolean[],
    period_start date,
    out tier_snapshot_ids bigint[],
    out used_before numeric[],
    out soft_limits numeric[],
    out hard_limits numeric[],
    out next_thresholds numeric[],
    out totals numeric[]
)
language plpgsql
volatile
set search_path = ''
as $$
begin
    with totals as (
        select
            pg_catalog.row_number() over (order by e.workspace_id, e.metric) as n,
            e.workspace_id,
            e.metric,
            coalesce(sum(e.quantity) filter (where e.recorded), 0) as total
        from rows from (
            pg_catalog.unnest(usage_batch_add.workspace_ids), pg_catalog.unnest(usage_batch_add.metrics),
            pg_catalog.unnest(usage_batch_add.quantities), pg_catalog.unnest(usage_batch_add.recorded)
        ) as e (workspace_id, metric, quantity, recorded)
        group by e.workspace_id, e.metric
    ),

    updated as (
        update public.usage_limits as ul
        set
            used = ul.used + t.total,
            -- Same expression in every writer of usage_limits (see 20261122060000).
            limit_state = case
                when ul.used + t.total >= ul.hard_limit then 'blocked'
                when ul.used + t.total >= ul.soft_limit then 'warning'
                else 'ok'
            end,
            updated_at = pg_catalog.now()
        from totals as t
        where ul.workspace_id = any(usage_batch_add.workspace_ids)
            and ul.period_start = usage_batch_add.period_start
            and ul.workspace_id = t.workspace_id
            and ul.metric = t.metric
        returning
            t.n, t.total, ul.tier_snapshot_id, ul.used - t.total as used_before, ul.soft_limit, ul.hard_limit,
            case
                when ul.warning_alert_id is null then ul.soft_limit
                when ul.blocked_alert_id is null then ul.hard_limit
            end as next_threshold
    )

    select
        pg_catalog.array_agg(u.tier_snapshot_id order by u.n),
        pg_catalog.array_agg(u.used_before order by u.n),
        pg_catalog.array_agg(u.soft_limit order by u.n),
        pg_catalog.array_agg(u.hard_limit order by u.n),
        pg_catalog.array_agg(u.next_threshold order by u.n),
        pg_catalog.array_agg(u.total order by u.n)
    into tier_snapshot_ids, used_before, soft_limits, hard_limits, next_thresholds, totals
    from updated as u;
end
$$;

comment on function private.usage_batch_add(uuid[], text[], numeric[], boolean[], date) is
'Add a usage batch''s recorded quantities to its period rows; returns per pair the row before and what was added.';
revoke all on function private.usage_batch_add(uuid[], text[], numeric[], boolean[], date) from public;
