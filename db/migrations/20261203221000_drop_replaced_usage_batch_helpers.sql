-- opsdb:destructive record_usage_batch's helpers whose signatures changed; db/functions defines the new ones
-- What a batch adds is worked out before its period rows are locked, and the
-- rows are updated where the lock found them: the steps pass sums and the rows'
-- places instead of the events. These are the helpers' previous signatures. The
-- migration runs just before db/functions re-creates them (the same deployment),
-- and nothing but private._record_usage_batch calls them.
drop function if exists private.usage_batch_add(uuid[], text[], numeric[], boolean[], date);
drop function if exists private.usage_batch_lock_rows(uuid[], text[], date);
drop function if exists private.usage_batch_answer(
    uuid[], text[], numeric[], text[], boolean[], uuid[], text[], numeric[], numeric[], numeric[]
);
drop function if exists private.usage_batch_insert_and_lock(
    uuid[], text[], numeric[], text[], text[], timestamptz[], boolean[], uuid[], text[], bigint[], date, timestamptz
);
