"""The crash test's checker can fail: the same load against a deduct_credits that
skips its ledger row (a scratch copy of the function, installed in this test's
database only) is caught, both as an acknowledged deduct with no ledger row and as
a wallet whose ledger no longer sums to its balance. The same load against the real
functions passes, so the catch is the mutant's, not the checker's noise."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.faults.crash import Load, check, setup_world

# deduct_credits without its ledger row: the balance moves, nothing records why.
MUTANT_DEDUCT = """
create or replace function private._deduct_credits(
    workspace_id uuid, amount numeric, reason text, idempotency_key text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_balance numeric;
begin
    update public.workspace_wallets as w
    set balance = w.balance - _deduct_credits.amount
    where w.workspace_id = _deduct_credits.workspace_id and w.balance >= _deduct_credits.amount
    returning w.balance into v_balance;
    if not found then
        raise exception using errcode = 'PT402', message = 'insufficient_credits';
    end if;
    return pg_catalog.jsonb_build_object(
        'balance', v_balance, 'deducted', _deduct_credits.amount, 'transaction_id', null, 'duplicate', false
    );
end
$$;
"""


@pytest.mark.parametrize("mutant", [None, "deduct_skips_its_ledger_row"])
def test_the_crash_checker_catches_a_deduct_that_skips_its_ledger_row(
    db: psycopg.Connection, db_url: str, mutant: str | None
) -> None:
    world = setup_world(db)
    if mutant:
        db.execute(MUTANT_DEDUCT)
    load = Load(db_url, world, seed=3)
    load.start()
    time.sleep(0.5)
    load.stop()
    ops = load.ops()
    assert sum(op.kind == "deduct" and op.outcome == "ok" for op in ops) > 5

    problems = check(db_url, ops)

    if mutant is None:
        assert problems == []
    else:
        assert any(p.startswith("acknowledged deduct_credits") and p.endswith(": 0 rows") for p in problems), problems
        assert any("but its ledger sums to" in p for p in problems), problems
