-- opsdb:destructive record_usage_batch's write step renamed usage_batch_write; db/functions defines it
-- The step now also adds the batch's sums to the rows it locks, and its name
-- says so. Nothing but private._record_usage_batch calls it, and the same
-- deployment re-creates the caller against the new name.
drop function if exists private.usage_batch_insert_and_lock(
    uuid[], text[], numeric[], text[], text[], timestamptz[], boolean[], uuid[], text[], bigint[], date, timestamptz
);
