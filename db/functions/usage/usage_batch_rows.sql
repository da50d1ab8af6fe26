-- The two writes of record_usage_batch that take locks: the batch's period rows
-- (private._usage_batch_lock_rows) and its events' idempotency keys
-- (private._usage_batch_insert_events). Definer code only (record_usage_batch).

-- private._usage_batch_lock_rows: lock the usage_limits rows of the given
-- (workspace, metric) pairs of the period, in the order given (the batch passes
-- them sorted, so concurrent batches never deadlock), and read them. Arrays are
-- aligned with the pairs; a pair without a row has nulls. next_thresholds: the
-- lowest threshold whose alert the period has not raised yet (null: both raised).
create or replace function private._usage_batch_lock_rows(
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
        pg_catalog.unnest(_usage_batch_lock_rows.workspace_ids), pg_catalog.unnest(_usage_batch_lock_rows.metrics)
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
            and ul.period_start = _usage_batch_lock_rows.period_start
        for no key update
    ) as l on true;
end
$$;

comment on function private._usage_batch_lock_rows(uuid[], text[], date) is
'Lock and read a usage batch''s period rows in the order given (arrays aligned with the pairs).';
revoke all on function private._usage_batch_lock_rows(uuid[], text[], date) from public;

-- private._usage_batch_insert_events: insert a batch's events (the first
-- occurrence of each key; first[i]), citing the tier snapshot of their period
-- row (pair_snapshot_ids, aligned with the pairs), in (workspace, key) order so
-- concurrent batches never deadlock on keys. A key already in usage_events is
-- skipped. Returns, per event in input order, whether it was recorded.
create or replace function private._usage_batch_insert_events(
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
            e.workspace_id, e.metric, e.quantity, _usage_batch_insert_events.period_start, p.tier_snapshot_id,
            e.source, e.idempotency_key, coalesce(e.occurred_at, _usage_batch_insert_events.now)
        from rows from (
            pg_catalog.unnest(_usage_batch_insert_events.workspace_ids),
            pg_catalog.unnest(_usage_batch_insert_events.metrics),
            pg_catalog.unnest(_usage_batch_insert_events.quantities),
            pg_catalog.unnest(_usage_batch_insert_events.keys),
            pg_catalog.unnest(_usage_batch_insert_events.sources),
            pg_catalog.unnest(_usage_batch_insert_events.occurred),
            pg_catalog.unnest(_usage_batch_insert_events.first)
        ) with ordinality as e (workspace_id, metric, quantity, idempotency_key, source, occurred_at, first, i)
        inner join rows from (
            pg_catalog.unnest(_usage_batch_insert_events.pair_workspace_ids),
            pg_catalog.unnest(_usage_batch_insert_events.pair_metrics),
            pg_catalog.unnest(_usage_batch_insert_events.pair_snapshot_ids)
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
        pg_catalog.unnest(_usage_batch_insert_events.workspace_ids),
        pg_catalog.unnest(_usage_batch_insert_events.keys),
        pg_catalog.unnest(_usage_batch_insert_events.first)
    ) with ordinality as e (workspace_id, idempotency_key, first, i)
    left join inserted as i on e.workspace_id = i.workspace_id and e.idempotency_key = i.idempotency_key;
    return v_recorded;
end
$$;

comment on function private._usage_batch_insert_events(
    uuid[], text[], numeric[], text[], text[], timestamptz[], boolean[], uuid[], text[], bigint[], date, timestamptz
) is
'Insert a usage batch''s events in key order, skipping keys already used; returns which were recorded.';
revoke all on function private._usage_batch_insert_events(
    uuid[], text[], numeric[], text[], text[], timestamptz[], boolean[], uuid[], text[], bigint[], date, timestamptz
) from public;
