"""usage_limits.limit_state is a plain column every writer sets from the same expression.

These tests drive every writer (new period, record, duplicate give-back, usage
past the hard limit, a batch, plan change up and down) and check that no row's
state ever disagrees with its numbers, and that the domains keep the rules the
CHECKs had.
"""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories
from harness.testing import Rpc
from tests.support.usage import ChangePlan

# Rows whose stored state is not the one their numbers give.
INCONSISTENT = """
    select workspace_id, metric, used, soft_limit, hard_limit, limit_state
    from public.usage_limits
    where limit_state is distinct from case
        when used >= hard_limit then 'blocked'
        when used >= soft_limit then 'warning'
        else 'ok'
    end
"""


def test_limit_state_follows_the_numbers_through_every_writer(
    rpc: Rpc, factories: Factories, db: psycopg.Connection, change_plan: ChangePlan
) -> None:
    ws = factories.workspace()  # free plan: sms soft 40, hard 50
    call = {"workspace_id": str(ws.id), "metric": "sms"}
    seen = [rpc("record_usage", {**call, "quantity": 10, "idempotency_key": "a"})["limit_state"]]
    assert db.execute(INCONSISTENT).fetchall() == []
    seen.append(rpc("record_usage", {**call, "quantity": 30, "idempotency_key": "b"})["limit_state"])
    # a retry: the quantity is added, then given back under the same lock
    seen.append(rpc("record_usage", {**call, "quantity": 30, "idempotency_key": "b"})["limit_state"])
    assert db.execute(INCONSISTENT).fetchall() == []

    change_plan(ws.id, "pro")  # sms soft 400: back to ok
    assert db.execute(INCONSISTENT).fetchall() == []
    change_plan(ws.id, "free", "downgrade")  # 40 used of soft 40: warning again
    assert db.execute(INCONSISTENT).fetchall() == []
    seen.append(rpc("record_usage", {**call, "quantity": 15, "idempotency_key": "c"})["limit_state"])
    seen.append(rpc("record_usage", {**call, "quantity": 1, "idempotency_key": "d"})["limit_state"])
    batch = rpc("record_usage_batch", {"events": [{**call, "quantity": 2, "idempotency_key": "e"}]})
    seen.append(batch["results"][0]["limit_state"])

    assert seen == ["ok", "warning", "warning", "blocked", "blocked", "blocked"]
    assert db.execute(INCONSISTENT).fetchall() == []
    states: dict[str, str] = dict(
        db.execute(
            "select metric, limit_state from public.usage_limits where workspace_id = %s", (ws.id,)
        ).fetchall()
    )
    assert states["sms"] == "blocked"
    assert set(states.values()) == {"ok", "blocked"}  # the other metrics, untouched, are ok


def test_limit_state_outside_its_vocabulary_is_refused(rpc: Rpc, factories: Factories, db: psycopg.Connection) -> None:
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1})
    with pytest.raises(psycopg.errors.CheckViolation), db.transaction():
        db.execute("update public.usage_limits set limit_state = 'maybe' where workspace_id = %s", (ws.id,))


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        ("update public.usage_limits set used = -1 where workspace_id = %(ws)s", "usage_total"),
        (
            "insert into public.usage_events (workspace_id, metric, quantity, period_start, tier_snapshot_id)"
            " select workspace_id, metric, 0, period_start, tier_snapshot_id from public.usage_limits"
            " where workspace_id = %(ws)s limit 1",
            "usage_quantity",
        ),
        (
            "insert into public.wallet_ledger (workspace_id, kind, amount, balance_after, reason, actor_role)"
            " values (%(ws)s, 'grant', 0, 1, 'zero', 'postgres')",
            "ledger_amount",
        ),
        (
            "insert into public.wallet_ledger (workspace_id, kind, amount, balance_after, reason, actor_role)"
            " values (%(ws)s, 'deduct', -1, -1, 'below zero', 'postgres')",
            "ledger_balance",
        ),
    ],
)
def test_the_domains_keep_the_rules_the_checks_had(
    rpc: Rpc, factories: Factories, db: psycopg.Connection, statement: str, constraint: str
) -> None:
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1})
    with pytest.raises(psycopg.errors.CheckViolation) as refused, db.transaction():
        db.execute(statement, {"ws": ws.id})
    assert constraint in str(refused.value)
