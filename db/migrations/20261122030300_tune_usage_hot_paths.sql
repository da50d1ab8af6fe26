-- Hot-path tuning for record_usage and deduct_credits (bench: usage_* scenarios).
--
-- 1. No foreign keys on the two append-only logs. Each FK check is an extra SPI
--    query and a KEY SHARE lock on the parent row per insert, and on a hot wallet
--    that parent is the very row every caller is queueing for. Integrity holds by
--    construction: only private._record_usage inserts usage_events, copying
--    workspace_id, metric and tier_snapshot_id from the usage_limits row it has
--    just updated (that table keeps its FKs), and only the credit functions insert
--    wallet_ledger rows, for the wallet row they have just locked. Neither log is
--    ever deleted from, so there is no cascade to lose either.
-- 2. The indexes that only served those FKs go too; the billing index (leading
--    with workspace_id) serves RLS and line items.
-- 3. fillfactor 50 on the two counters updated on every call, so the UPDATE stays
--    HOT (no index maintenance) while pages have room.

alter table public.usage_events drop constraint usage_events_workspace_id_fkey;
alter table public.usage_events drop constraint usage_events_metric_fkey;
alter table public.usage_events drop constraint usage_events_tier_snapshot_id_fkey;
drop index public.usage_events_metric_idx;
drop index public.usage_events_tier_snapshot_id_idx;

alter table public.wallet_ledger drop constraint wallet_ledger_workspace_id_fkey;

alter table public.usage_limits set (fillfactor = 50);
alter table public.workspace_wallets set (fillfactor = 50);
