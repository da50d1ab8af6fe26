-- private.fold_usage_rollups: add the usage_events recorded since the last fold to
-- private.usage_daily_totals and private.usage_period_totals (pg_cron, every minute).
--
--   select private.fold_usage_rollups();
--   -> {folded_events, folded_through, pending_through, waiting_for: null | <start of the oldest
--       transaction still running>}
--
-- The watermark on usage_events.id moves as private.fold_rollup moves every rollup's: only over
-- ids whose transactions have all ended, at most max_events per run, so a backlog (the first runs
-- on an existing history) is folded in bounded steps; readers stay exact meanwhile, since the live
-- views add every event above the watermark.
create or replace function private.fold_usage_rollups(max_events integer default 500000)
returns jsonb
language sql
volatile
security definer
set search_path = ''
-- A job's few large statements (private.fold_usage_events runs them under this
-- setting): JIT compiling them costs more than it saves (seconds on big tables).
set jit = off
as $$
    select private.fold_rollup(
        'usage_events', 'public.usage_events_id_seq', 'private.fold_usage_events(bigint, bigint)',
        fold_usage_rollups.max_events
    );
$$;

comment on function private.fold_usage_rollups(integer) is
'Fold the usage_events whose transactions have all ended into the daily and period usage totals (at most '
'max_events per run); pg_cron runs it every minute. Returns how far it folded and what it waits for.';
revoke all on function private.fold_usage_rollups(integer) from public;


-- private.oldest_running_transaction: the start of the oldest transaction of
-- this database still running in another session, '-infinity' while a prepared
-- transaction exists, null when there is none. Maintenance (autovacuum, WAL
-- senders) never writes usage_events and is left out, so a long autovacuum
-- never holds folding back. Needs superuser or pg_read_all_stats to see other
-- sessions' transactions (private.fold_rollup checks it).
create or replace function private.oldest_running_transaction()
returns timestamptz
language sql
volatile
set search_path = ''
as $$
    -- This transaction's own view of pg_stat_activity is refreshed, not the one cached at its start.
    select pg_catalog.pg_stat_clear_snapshot();

    select case
        when exists (select from pg_catalog.pg_prepared_xacts) then '-infinity'
        else (
            select min(a.xact_start)
            from pg_catalog.pg_stat_activity as a
            where a.pid <> pg_catalog.pg_backend_pid()
                and a.datid = (
                    select d.oid from pg_catalog.pg_database as d where d.datname = pg_catalog.current_database()
                )
                and a.xact_start is not null
                and a.backend_type not in ('autovacuum worker', 'autovacuum launcher', 'walsender')
        )
    end;
$$;

comment on function private.oldest_running_transaction() is
'The start of the oldest transaction still running in another session of this database (''-infinity'' while '
'a prepared transaction exists; null: none), maintenance left out.';
revoke all on function private.oldest_running_transaction() from public;

-- private.fold_usage_events: add the usage_events with after_id < id <= upto_id to
-- private.usage_daily_totals and private.usage_period_totals, one set-based
-- statement per rollup; returns how many events it folded. The caller
-- (private.fold_usage_rollups) knows those ids are final and moves the watermark
-- in the same transaction.
create or replace function private.fold_usage_events(after_id bigint, upto_id bigint)
returns bigint
language plpgsql
volatile
set search_path = ''
-- A job's few large statements: JIT compiling them costs more than it saves (seconds on big tables).
set jit = off
as $$
declare
    v_after bigint := fold_usage_events.after_id;
    v_upto bigint := fold_usage_events.upto_id;
    v_folded bigint;
begin
    with batch as (
        select
            e.workspace_id,
            (e.occurred_at at time zone 'UTC')::date as usage_date,
            e.metric,
            e.period_start,
            e.tier_snapshot_id,
            e.source,
            sum(e.quantity) as quantity,
            count(*) as event_count,
            min(e.id) as first_event_id,
            max(e.id) as last_event_id
        from public.usage_events as e
        where e.id > v_after and e.id <= v_upto
        group by 1, 2, 3, 4, 5, 6
    ),

    folded as (
        insert into private.usage_daily_totals as t (
            workspace_id, usage_date, metric, period_start, tier_snapshot_id, source, quantity, event_count,
            first_event_id, last_event_id
        )
        select * from batch
        on conflict on constraint usage_daily_totals_key do update
            set quantity = t.quantity + excluded.quantity,
                event_count = t.event_count + excluded.event_count,
                first_event_id = least(t.first_event_id, excluded.first_event_id),
                last_event_id = greatest(t.last_event_id, excluded.last_event_id)
    )

    select coalesce(sum(b.event_count), 0) into v_folded from batch as b;

    insert into private.usage_period_totals as t (
        workspace_id, period_start, metric, tier_snapshot_id, quantity, event_count, first_event_id,
        last_event_id
    )
    select
        e.workspace_id,
        e.period_start,
        e.metric,
        e.tier_snapshot_id,
        sum(e.quantity),
        count(*),
        min(e.id),
        max(e.id)
    from public.usage_events as e
    where e.id > v_after and e.id <= v_upto
    group by 1, 2, 3, 4
    on conflict (workspace_id, period_start, metric, tier_snapshot_id) do update
        set quantity = t.quantity + excluded.quantity,
            event_count = t.event_count + excluded.event_count,
            first_event_id = least(t.first_event_id, excluded.first_event_id),
            last_event_id = greatest(t.last_event_id, excluded.last_event_id);
    return v_folded;
end
$$;

comment on function private.fold_usage_events(bigint, bigint) is
'Add the usage_events with ids in (after_id, upto_id] to the daily and period usage totals; returns how many.';
revoke all on function private.fold_usage_events(bigint, bigint) from public;
