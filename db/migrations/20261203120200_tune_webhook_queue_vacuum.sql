-- Retention deletes about one day in thirty of webhook_queue every night, and autovacuum's default
-- (20% of the table dead) would let the dead rows of a week pile up before making their space reusable.
-- At 2% the nightly deletes are vacuumed the same night: new deliveries reuse the space, the table stays at
-- the size of its retention window, and index scans over the oldest rows skip no dead entries.
-- (Storage parameters take a SHARE UPDATE EXCLUSIVE lock: ingestion goes on.)
alter table public.webhook_queue set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
