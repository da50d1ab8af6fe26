-- opsdb:destructive four hot columns change type to domains over their own types (same checks, tables rewritten once)
-- Hot-path tuning, third step (after 20261122030300 and 030400).
--
-- PostgreSQL 15 rebuilds every table CHECK expression and every stored generated
-- column from its catalog text (stringToNode + planning) each time a statement
-- that writes the table starts. On record_usage and deduct_credits, which write two
-- rows per call, that was a tenth of the call. A domain's check is the same rule,
-- but the type cache keeps it planned, so it costs next to nothing per statement.
-- The rules do not change: the same conditions hold for every row, whoever writes it.

create domain public.usage_quantity as numeric check (value > 0);
comment on domain public.usage_quantity is
'A metered amount of usage: greater than zero (usage_events.quantity).';

create domain public.usage_total as numeric check (value >= 0);
comment on domain public.usage_total is
'A running usage total: never negative (usage_limits.used).';

create domain public.ledger_amount as numeric(20, 4) check (value <> 0);
comment on domain public.ledger_amount is
'A signed wallet ledger amount: never zero (wallet_ledger.amount).';

create domain public.ledger_balance as numeric(20, 4) check (value >= 0);
comment on domain public.ledger_balance is
'A wallet balance after a ledger entry: never negative (wallet_ledger.balance_after).';

alter table public.usage_events
drop constraint usage_events_quantity_check,
alter column quantity type public.usage_quantity;

-- limit_state stops being a generated column (same cost as a CHECK per statement)
-- and becomes a plain column that its writers set from the same expression: only
-- definer functions in schema private write usage_limits (record_usage, its
-- duplicate give-back, _ensure_usage_period, on_plan_change), and
-- tests/usage/test_limit_state.py checks that it always equals the state the row's
-- numbers give. Its vocabulary stays closed through a domain too.
alter table public.usage_limits
drop constraint usage_limits_used_check,
alter column used type public.usage_total,
alter column limit_state drop expression;

create domain public.usage_limit_state as text check (value in ('ok', 'warning', 'blocked'));
comment on domain public.usage_limit_state is
'ok below the soft limit, warning from the soft limit, blocked from the hard limit.';
alter table public.usage_limits alter column limit_state type public.usage_limit_state;

alter table public.wallet_ledger
drop constraint wallet_ledger_amount_check,
drop constraint wallet_ledger_balance_after_check,
alter column amount type public.ledger_amount,
alter column balance_after type public.ledger_balance;
