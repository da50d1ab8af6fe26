-- opsdb:destructive drops the one-transaction retention signature; its successor takes a batch size too
-- private._run_retention_cleanup(numeric) ran the whole retention in one transaction for up to 60 s.
-- Its successor takes a batch size as well (functions/jobs/run_retention_cleanup.sql) and pg_cron calls
-- private.run_retention_in_batches, which commits between batches; the old signature would stay callable
-- beside it as an overload.
drop function if exists private._run_retention_cleanup(numeric);
