-- Hot-path tuning, second step (after 20261122030300): fewer constraints and
-- indexes on the tables record_usage and deduct_credits write on every call.

-- 1. Every constraint and trigger of a hot table costs on every write (each CHECK
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

-- 2. One index fewer per append: each log's primary key leads with the columns
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
