"""Usage that happened is recorded; the hard limit refuses new work before it starts.

* record_usage records (and bills) every usage, the first ones of a period arriving
  at once included: none is taken for blocked.
* authorize_usage is what an app asks before starting work: PT402 once the period
  has reached the hard limit, or when the work's expected quantity would pass it.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, Workspace
from harness.race import race_each
from harness.rpc import RpcError, call
from harness.testing import Connect, Rpc
from tests.support.usage import UsageReader


def test_the_first_usages_of_a_period_arriving_at_once_are_all_recorded(
    factories: Factories, usage: UsageReader, connect: Connect
) -> None:
    workspaces = [factories.workspace() for _ in range(20)]  # no usage_limits rows yet
    clients = 12  # 240 first calls
    conns = [connect() for _ in range(clients)]
    outcomes: list[tuple[str, Any]] = []

    rng = random.Random(14)
    for ws in workspaces:
        # spread over a few milliseconds, so calls keep arriving while the first one commits the period's rows
        delays = [rng.uniform(0, 0.006) for _ in range(clients)]

        def worker(i: int, ws: Workspace = ws, delays: list[float] = delays) -> tuple[str, Any]:
            time.sleep(delays[i])
            try:
                answer = call(conns[i], "record_usage", {"workspace_id": str(ws.id), "metric": "llm_tokens", "quantity": 7})
                return ("ok", answer.data)
            except RpcError as err:
                return ("error", err)

        outcomes += race_each(range(clients), worker, timeout=60)

    assert [o for o in outcomes if o[0] != "ok"] == []
    assert len(outcomes) == len(workspaces) * clients
    for ws in workspaces:
        assert usage.limits(ws.id, "llm_tokens")["used"] == 7 * clients
        assert usage.event_count(ws.id) == clients
        assert len(usage.snapshots(ws.id)) == 1


def _authorize(rpc: Rpc, ws: Workspace, metric: str = "sms", quantity: Any = None) -> dict:
    args: dict[str, Any] = {"workspace_id": str(ws.id), "metric": metric}
    if quantity is not None:
        args["quantity"] = quantity
    return rpc("authorize_usage", args)


def test_authorize_usage_allows_work_until_the_hard_limit_then_refuses_it(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()  # free: sms soft 40, hard 50

    fresh = _authorize(rpc, ws)  # nothing used this period yet
    assert {k: fresh[k] for k in ("allowed", "limit_state", "used", "soft_limit", "hard_limit", "remaining")} == {
        "allowed": True, "limit_state": "ok", "used": 0, "soft_limit": 40, "hard_limit": 50, "remaining": 50,
    }
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 45})
    assert (_authorize(rpc, ws)["limit_state"], _authorize(rpc, ws)["remaining"]) == ("warning", 5)
    assert _authorize(rpc, ws, quantity=5)["allowed"] is True
    with pytest.raises(RpcError) as too_much:
        _authorize(rpc, ws, quantity=6)  # would pass the hard limit
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 5})
    with pytest.raises(RpcError) as blocked:
        _authorize(rpc, ws)

    for refused in (too_much.value, blocked.value):
        assert (refused.sqlstate, refused.status, refused.message) == ("PT402", 402, "usage_limit_exceeded")
        assert str(ws.id) in (refused.detail or "")
    assert _authorize(rpc, ws, "messages")["allowed"] is True  # other metrics are independent
    assert db.execute("select sum(used) from public.usage_limits where workspace_id = %s", (ws.id,)).fetchone() == (
        Decimal(50),
    )


def test_authorize_usage_bad_input_is_refused_and_nothing_is_written(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    cases = [
        (None, "sms", None, "22023", "workspace_required"),
        (str(ws.id), "minutes_of_fun", None, "22023", "unknown_metric"),
        (str(ws.id), "sms", 0, "22023", "invalid_quantity"),
        (str(ws.id), "sms", "NaN", "22023", "invalid_quantity"),
        ("00000000-0000-4000-8000-000000000000", "sms", None, "PT404", "workspace_not_found"),
    ]
    for workspace_id, metric, quantity, sqlstate, message in cases:
        with pytest.raises(RpcError) as caught:
            rpc("authorize_usage", {"workspace_id": workspace_id, "metric": metric, "quantity": quantity})
        assert (caught.value.sqlstate, caught.value.message) == (sqlstate, message)
    assert db.execute("select count(*) from public.usage_limits").fetchone() == (0,)


def test_only_service_role_may_authorize_usage(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace()
    for caller in (ws.owner.jwt, factories.platform_admin().jwt, "anon"):
        with pytest.raises(RpcError) as caught:
            rpc("authorize_usage", {"workspace_id": str(ws.id), "metric": "sms"}, as_=caller)
        assert caught.value.sqlstate == "42501"
