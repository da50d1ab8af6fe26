-- opsdb:destructive record_usage_batch's helpers whose signatures changed; db/functions defines the new ones
-- The batch's period rows are now updated where its lock found them: the lock
-- and insert steps return the rows' places, and the add step takes them. These
-- are the helpers' previous signatures. The migration runs just before
-- db/functions re-creates them (the same deployment), and nothing but
-- private._record_usage_batch calls them.
drop function if exists private.usage_batch_add(uuid[], text[], numeric[], boolean[], date);
drop function if exists private.usage_batch_lock_rows(uuid[], text[], date);
drop function if exists private.usage_batch_insert_and_lock(
    uuid[], text[], numeric[], text[], text[], timestamptz[], boolean[], uuid[], text[], bigint[], date, timestamptz
);
