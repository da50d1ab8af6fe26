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

-- 4. Every constraint and trigger of a hot table costs on every write (each CHECK
--    expression is rebuilt for each statement; each FK adds an after-row trigger
--    even when its key does not change). Kept: the FK to the workspace and the
--    checks the issue names (balance >= 0) or that protect the totals (used >= 0,
--    quantity > 0, amount <> 0, balance_after >= 0). Dropped: the FKs of
--    usage_limits that only restate where the row was copied from (metric,
--    plan_key and tier_snapshot_id come from the tier snapshot, whose own FKs
--    hold), with the indexes that served them, and the ledger's kind checks: kind
--    is written by deduct_credits and grant_credits only, each with its own sign.
alter table public.usage_limits drop constraint usage_limits_metric_fkey;
alter table public.usage_limits drop constraint usage_limits_plan_key_fkey;
alter table public.usage_limits drop constraint usage_limits_tier_snapshot_id_fkey;
drop index public.usage_limits_metric_idx;
drop index public.usage_limits_plan_key_idx;
drop index public.usage_limits_tier_snapshot_id_idx;

alter table public.wallet_ledger drop constraint wallet_ledger_kind_check;
alter table public.wallet_ledger drop constraint wallet_ledger_check;

-- 5. One index fewer per append: each log's primary key leads with the columns
--    its readers filter on (RLS on workspace_id; line items on workspace, period,
--    metric and snapshot), so a separate index for them is no longer needed.
--    ids stay unique (identity) and are what line items and results cite.
alter table public.usage_events drop constraint usage_events_pkey;
drop index public.usage_events_billing_idx;
alter table public.usage_events
add constraint usage_events_pkey primary key (workspace_id, period_start, metric, tier_snapshot_id, id);

alter table public.wallet_ledger drop constraint wallet_ledger_pkey;
drop index public.wallet_ledger_workspace_id_idx;
alter table public.wallet_ledger add constraint wallet_ledger_pkey primary key (workspace_id, id);
