-- private.fold_usage_rollups: add the usage_events recorded since the last fold to
-- private.usage_daily_totals and private.usage_period_totals (pg_cron, every minute).
--
--   select private.fold_usage_rollups();
--   -> {folded_events, folded_through, pending_through, waiting_for: null | <start of the oldest
--       transaction still running>}
--
-- Which events are final: an event's id is taken from a sequence when the row is
-- inserted, and the transaction commits later, so a lower id can still appear
-- after a higher one is visible. Each run reads the sequence's value (every id
-- up to it has been handed out) and then the clock: pending_through and
-- pending_at. A transaction holding such an id started before pending_at. So
-- once no transaction of this database that started before pending_at is still
-- running (nor a prepared one), no id up to pending_through can appear any more:
-- the next run folds (folded_through, pending_through] and moves the watermark,
-- in one transaction with the totals, and takes a new reading. A long transaction
-- delays folding (reported as waiting_for); readers stay exact meanwhile, since
-- the live views add every event above the watermark.
--
-- At most max_events are folded per run, so a backlog (the first runs on an
-- existing history) is folded in bounded steps. Runs never overlap (the state
-- row is locked). Seeing other sessions' transactions needs superuser or
-- pg_read_all_stats for the function's owner (the database owner runs it).
create or replace function private.fold_usage_rollups(max_events integer default 500000)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
-- A job's few large statements (private.fold_usage_events runs them under this
-- setting): JIT compiling them costs more than it saves (seconds on big tables).
set jit = off
as $$
declare
    v_state private.usage_rollup_state%rowtype;
    v_oldest timestamptz;
    v_upto bigint;
    v_folded bigint := 0;
    v_last bigint;
    v_called boolean;
begin
    if fold_usage_rollups.max_events is null or fold_usage_rollups.max_events < 1 then
        raise exception using
            errcode = '22023', message = 'invalid_max_events',
            detail = pg_catalog.format('max_events %s', fold_usage_rollups.max_events);
    end if;
    if not (
        (select r.rolsuper from pg_catalog.pg_roles as r where r.rolname = current_user)
        or pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'member')
    ) then
        raise exception using
            errcode = '42501', message = 'fold_cannot_see_transactions',
            detail = pg_catalog.format('role %s cannot see other sessions'' transactions', current_user),
            hint = pg_catalog.format('grant pg_read_all_stats to %s', current_user);
    end if;

    select s.* into v_state from private.usage_rollup_state as s where s.name = 'usage_events' for update;

    if v_state.pending_through > v_state.folded_through then
        v_oldest := private.oldest_running_transaction();
        if v_oldest is null or v_oldest > v_state.pending_at then
            v_upto := least(v_state.pending_through, v_state.folded_through + fold_usage_rollups.max_events);
            v_folded := private.fold_usage_events(v_state.folded_through, v_upto);
            v_state.folded_through := v_upto;
            v_oldest := null;
        end if;
    end if;

    -- A new reading once everything up to the last one is folded.
    if v_state.pending_through is null or v_state.folded_through >= v_state.pending_through then
        select s.last_value, s.is_called into v_last, v_called from public.usage_events_id_seq as s;
        v_state.pending_through := case when v_called then v_last else v_last - 1 end;
        v_state.pending_at := pg_catalog.clock_timestamp();
    end if;

    update private.usage_rollup_state as s
    set folded_through = v_state.folded_through,
        pending_through = v_state.pending_through,
        pending_at = v_state.pending_at,
        folded_at = case when v_folded > 0 then pg_catalog.now() else s.folded_at end
    where s.name = 'usage_events';

    return pg_catalog.jsonb_build_object(
        'folded_events', v_folded,
        'folded_through', v_state.folded_through,
        'pending_through', v_state.pending_through,
        'waiting_for', v_oldest
    );
end
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
-- sessions' transactions (private.fold_usage_rollups checks it).
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
