-- opsdb:destructive the check on private.usage_rollup_state.name widens from one rollup to two (no row is lost)
-- One state row per rollup in private.usage_rollup_state: the usage rollup's and the dashboard rollup's
-- (20261203235200), both moved by private.fold_rollup. The check is added not valid and validated by the
-- next file.
alter table private.usage_rollup_state drop constraint usage_rollup_state_name_check;

alter table private.usage_rollup_state
add constraint usage_rollup_state_name_check check (name in ('usage_events', 'dashboard_events')) not valid;

comment on table private.usage_rollup_state is
'How far each rollup has folded its events (usage_events by id, dashboard_events by fold_id): every event with '
'an id <= folded_through is in it; pending_through is the sequence value read at pending_at, final once every '
'transaction running then has ended.';
