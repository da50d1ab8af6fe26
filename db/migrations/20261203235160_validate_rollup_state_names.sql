-- The check on the rollup state's names, added not valid by the file before: its one row is validated.
alter table private.usage_rollup_state validate constraint usage_rollup_state_name_check;
