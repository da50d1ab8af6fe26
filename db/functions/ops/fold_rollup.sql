-- private.fold_rollup: move one rollup's watermark over the ids that are final, folding them with
-- its fold step; the common part of private.fold_usage_rollups and private.fold_dashboard_rollups.
--
--   select private.fold_rollup('usage_events', 'public.usage_events_id_seq',
--       'private.fold_usage_events(bigint, bigint)', 500000);
--   -> {folded_events, folded_through, pending_through, waiting_for: null | <start of the oldest
--       transaction still running>}
--
-- Which events are final: an event's id is taken from a sequence (id_sequence) when the row is
-- inserted, and the transaction commits later, so a lower id can still appear after a higher one
-- is visible. Each run reads the sequence's value (every id up to it has been handed out) and then
-- the clock: pending_through and pending_at. A transaction holding such an id started before
-- pending_at. So once no transaction of this database that started before pending_at is still
-- running (nor a prepared one), no id up to pending_through can appear any more: the next run
-- calls fold_step(folded_through, upto) for (folded_through, pending_through] and moves the
-- watermark, in one transaction with the totals, and takes a new reading. A long transaction
-- delays folding (reported as waiting_for); readers stay exact meanwhile by adding every event
-- above the watermark.
--
-- At most max_events ids are folded per run (fold_step returns how many events it folded). Runs
-- never overlap (the state row in private.usage_rollup_state is locked). Seeing other sessions'
-- transactions needs superuser or pg_read_all_stats for the caller (the definer of the job's
-- function: the database owner).
create or replace function private.fold_rollup(
    rollup_name text,
    id_sequence regclass,
    fold_step regprocedure,
    max_events integer
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_state private.usage_rollup_state%rowtype;
    v_oldest timestamptz;
    v_upto bigint;
    v_folded bigint := 0;
    v_last bigint;
    v_called boolean;
begin
    if fold_rollup.max_events is null or fold_rollup.max_events < 1 then
        raise exception using
            errcode = '22023', message = 'invalid_max_events',
            detail = pg_catalog.format('max_events %s', fold_rollup.max_events);
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

    select s.* into strict v_state from private.usage_rollup_state as s where s.name = fold_rollup.rollup_name
    for update;

    if v_state.pending_through > v_state.folded_through then
        v_oldest := private.oldest_running_transaction();
        if v_oldest is null or v_oldest > v_state.pending_at then
            v_upto := least(v_state.pending_through, v_state.folded_through + fold_rollup.max_events);
            execute pg_catalog.format('select %s($1, $2)', fold_rollup.fold_step::oid::regproc)
            into v_folded
            using v_state.folded_through, v_upto;
            v_state.folded_through := v_upto;
            v_oldest := null;
        end if;
    end if;

    -- A new reading once everything up to the last one is folded.
    if v_state.pending_through is null or v_state.folded_through >= v_state.pending_through then
        execute pg_catalog.format('select s.last_value, s.is_called from %s as s', fold_rollup.id_sequence)
        into v_last, v_called;
        v_state.pending_through := case when v_called then v_last else v_last - 1 end;
        v_state.pending_at := pg_catalog.clock_timestamp();
    end if;

    update private.usage_rollup_state as s
    set folded_through = v_state.folded_through,
        pending_through = v_state.pending_through,
        pending_at = v_state.pending_at,
        folded_at = case when v_folded > 0 then pg_catalog.now() else s.folded_at end
    where s.name = fold_rollup.rollup_name;

    return pg_catalog.jsonb_build_object(
        'folded_events', v_folded,
        'folded_through', v_state.folded_through,
        'pending_through', v_state.pending_through,
        'waiting_for', v_oldest
    );
end
$$;

comment on function private.fold_rollup(text, regclass, regprocedure, integer) is
'Fold a rollup''s events whose ids are final (their transactions have all ended) with its fold step, at most '
'max_events per run, and move its watermark in private.usage_rollup_state.';
revoke all on function private.fold_rollup(text, regclass, regprocedure, integer) from public;
