"""record_usage_batch: up to 1,000 events in one call, meaning exactly what the same
record_usage calls would in input order; all or nothing."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from harness.factories import Factories
from harness.race import race_each
from harness.rows import one, scalar
from harness.rpc import RpcError, call
from harness.testing import Connect, Rpc


def ev(ws: Any, quantity: Any = 1, metric: str = "sms", key: str | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"workspace_id": str(ws.id), "metric": metric, "quantity": quantity}
    if key is not None:
        event["idempotency_key"] = key
    return {**event, **extra}


def _state(db: psycopg.Connection) -> tuple[Any, ...]:
    """Everything a batch may write."""
    return tuple(
        db.execute(q).fetchall()
        for q in (
            "select workspace_id, metric, used, limit_state from public.usage_limits order by 1, 2",
            "select count(*), coalesce(sum(quantity), 0) from public.usage_events",
            "select count(*) from public.alerts",
        )
    )


def test_a_batch_answers_what_the_same_calls_one_by_one_would(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    a, b = factories.workspace(), factories.workspace()  # free: sms soft 40, hard 50
    events = [
        ev(a, 30, key="a1"),
        ev(b, 2, "messages"),
        ev(a, 15, key="a2"),  # crosses the soft limit
        ev(a, 15, key="a1"),  # a repeat of a1 in the batch: a duplicate
        ev(a, 10),  # crosses the hard limit: recorded all the same
        ev(a, 1, key="a3"),
        ev(b, 3, "messages", key="b1"),
    ]
    c, d = factories.workspace(), factories.workspace()
    singles = [rpc("record_usage", {**e, "workspace_id": str(c.id if e["workspace_id"] == str(a.id) else d.id)})
               for e in events[:3]]
    singles.append(rpc("record_usage", {**events[3], "workspace_id": str(c.id), "quantity": 30}))
    singles += [rpc("record_usage", {**e, "workspace_id": str(c.id if e["workspace_id"] == str(a.id) else d.id)})
                for e in events[4:]]
    events[3]["quantity"] = 30  # the same usage as a1

    batch = rpc("record_usage_batch", {"events": events})

    assert (batch["recorded"], batch["duplicates"]) == (6, 1)
    assert [r["idempotency_key"] for r in batch["results"]] == ["a1", None, "a2", "a1", None, "a3", "b1"]
    assert [(r["limit_state"], r["duplicate"], r["used"]) for r in batch["results"]] == [
        (s["limit_state"], s["duplicate"], s["used"]) for s in singles
    ]
    assert [r["limit_state"] for r in batch["results"]] == ["ok", "ok", "warning", "warning", "blocked", "blocked", "ok"]
    totals: dict[str, int] = dict(db.execute(
        "select workspace_id::text || metric, used from public.usage_limits where used > 0"
    ).fetchall())
    assert totals[f"{a.id}sms"] == totals[f"{c.id}sms"] == 56
    assert totals[f"{b.id}messages"] == totals[f"{d.id}messages"] == 5
    for ws in (a, c):  # one alert per threshold, from the batch as from the single calls
        types = db.execute("select type from public.alerts where workspace_id = %s order by type", (ws.id,)).fetchall()
        assert types == [("usage_blocked",), ("usage_warning",)]


def test_a_resent_batch_counts_once_and_answers_duplicates(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    events = [ev(ws, 2, "llm_tokens", key=f"run:{i}") for i in range(3)]
    first = rpc("record_usage_batch", {"events": events})
    again = rpc("record_usage_batch", {"events": events})

    assert (first["recorded"], first["duplicates"]) == (3, 0)
    assert (again["recorded"], again["duplicates"]) == (0, 3)
    assert [r["used"] for r in again["results"]] == [6, 6, 6]
    assert db.execute("select count(*), sum(quantity) from public.usage_events").fetchone() == (3, Decimal(6))


def test_an_event_keeps_its_source_and_the_time_it_happened(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    at = scalar(db, "select (now() - interval '3 seconds')")
    rpc("record_usage_batch", {"events": [ev(ws, 5, "llm_tokens", source="agent-runtime", occurred_at=at.isoformat())]})
    assert db.execute("select source, occurred_at from public.usage_events").fetchone() == ("agent-runtime", at)


def test_an_empty_batch_writes_nothing(rpc: Rpc) -> None:
    assert rpc("record_usage_batch", {"events": []}) == {"recorded": 0, "duplicates": 0, "results": []}


MALFORMED: list[tuple[str, list[str] | dict[str, Any], str]] = [
    ("not an object", ["sms"], "malformed_event"),
    ("unknown field", {"quanity": 1}, "unknown_field"),
    ("no workspace", {"workspace_id": None}, "invalid_workspace_id"),
    ("workspace not a uuid", {"workspace_id": "ws-1"}, "invalid_workspace_id"),
    ("unknown metric", {"metric": "minutes_of_fun"}, "unknown_metric"),
    ("metric missing", {"metric": None}, "unknown_metric"),
    ("quantity zero", {"quantity": 0}, "invalid_quantity"),
    ("quantity negative", {"quantity": -1}, "invalid_quantity"),
    ("quantity a string", {"quantity": "3"}, "invalid_quantity"),
    ("quantity too large", {"quantity": 1e13}, "invalid_quantity"),
    ("key empty", {"idempotency_key": ""}, "invalid_idempotency_key"),
    ("key a number", {"idempotency_key": 7}, "invalid_idempotency_key"),
    ("source too long", {"source": "x" * 201}, "invalid_source"),
    ("occurred_at not a time", {"occurred_at": "yesterday"}, "invalid_occurred_at"),
    ("occurred_at without a zone", {"occurred_at": "2026-12-03T10:00:00"}, "invalid_occurred_at"),
    ("occurred_at impossible", {"occurred_at": "2026-13-45T10:00:00Z"}, "invalid_occurred_at"),
    ("occurred_at in a closed period", {"occurred_at": "2020-01-01T00:00:00Z"}, "invalid_occurred_at"),
    ("occurred_at in the future", {"occurred_at": "2999-01-01T00:00:00Z"}, "invalid_occurred_at"),
]


def test_a_malformed_event_refuses_the_whole_batch_naming_its_index(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 39})
    before = _state(db)
    for name, change, word in MALFORMED:
        bad = change if isinstance(change, list) else {**ev(ws), **change}
        events = [ev(ws, 1, key="k0"), ev(ws, 5, key="k1"), bad, ev(ws, 1)]  # k1 alone would cross the soft limit

        with pytest.raises(RpcError) as caught:
            rpc("record_usage_batch", {"events": events})

        assert (caught.value.sqlstate, caught.value.status, caught.value.message) == ("22023", 400, word), name
        assert (caught.value.detail or "").startswith("events[2]: "), name
        assert _state(db) == before, name


def test_events_that_are_not_an_array_are_refused(rpc: Rpc) -> None:
    for events in (None, {"workspace_id": "x"}, "[]"):
        with pytest.raises(RpcError) as caught:
            rpc("record_usage_batch", {"events": events})
        assert (caught.value.sqlstate, caught.value.message) == ("22023", "malformed_batch"), events


def test_more_than_1000_events_are_refused_and_1000_are_recorded(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    with pytest.raises(RpcError) as caught:
        rpc("record_usage_batch", {"events": [ev(ws, 1, "llm_tokens")] * 1001})
    assert (caught.value.sqlstate, caught.value.message) == ("22023", "batch_too_large")
    assert db.execute("select count(*) from public.usage_events").fetchone() == (0,)

    result = rpc("record_usage_batch", {"events": [ev(ws, 1, "llm_tokens", key=f"t{i}") for i in range(1000)]})
    assert (result["recorded"], len(result["results"]), result["results"][-1]["used"]) == (1000, 1000, 1000)


def test_a_key_reused_for_other_usage_refuses_the_batch(rpc: Rpc, factories: Factories, db: psycopg.Connection) -> None:
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1, "idempotency_key": "old"})
    before = _state(db)
    for events, detail in (
        ([ev(ws, 1, key="new"), ev(ws, 2, key="old")], "events[1]: its key was used for 1 sms"),
        ([ev(ws, 1, key="twice"), ev(ws, 1), ev(ws, 3, key="twice")], "events[2]: its key was used by events[0]"),
    ):
        with pytest.raises(RpcError) as caught:
            rpc("record_usage_batch", {"events": events})
        assert (caught.value.sqlstate, caught.value.status, caught.value.message) == ("PT409", 409, "idempotency_conflict")
        assert (caught.value.detail or "").startswith(detail)
        assert _state(db) == before


def test_an_unknown_workspace_refuses_the_batch(rpc: Rpc, factories: Factories, db: psycopg.Connection) -> None:
    ws = factories.workspace()
    ghost = {"workspace_id": "00000000-0000-4000-8000-000000000000", "metric": "sms", "quantity": 1}
    with pytest.raises(RpcError) as caught:
        rpc("record_usage_batch", {"events": [ev(ws), ghost]})
    assert (caught.value.sqlstate, caught.value.message) == ("PT404", "workspace_not_found")
    assert (caught.value.detail or "").startswith("events[1]: ")
    assert db.execute("select count(*) from public.usage_events").fetchone() == (0,)


def test_only_service_role_may_record_a_batch(rpc: Rpc, factories: Factories, db: psycopg.Connection) -> None:
    ws = factories.workspace()
    for caller in (ws.owner.jwt, factories.platform_admin().jwt, "anon"):
        with pytest.raises(RpcError) as caught:
            rpc("record_usage_batch", {"events": [ev(ws)]}, as_=caller)
        assert caught.value.sqlstate == "42501"
    assert db.execute("select count(*) from public.usage_events").fetchone() == (0,)


def test_concurrent_batches_and_single_calls_keep_exact_totals_one_alert_per_threshold_and_count_keys_once(
    factories: Factories, db: psycopg.Connection, connect: Connect
) -> None:
    workspaces = [factories.workspace() for _ in range(3)]  # free: messages soft 800, hard 1000
    clients = 8
    conns = [connect() for _ in range(clients)]

    def batch_for(i: int) -> list[dict[str, Any]]:
        # every client names the workspaces in another order; half the keys are shared by two clients
        order = workspaces[i % 3:] + workspaces[: i % 3]
        return [ev(ws, 20, "messages", key=f"k{i // 2}-{ws.id}-{n}") for n in range(15) for ws in order]

    def worker(i: int) -> None:
        for round_ in range(2):
            if i % 4 == 3:  # some clients send the same events one by one
                for e in batch_for(i):
                    call(conns[i], "record_usage", e)
            else:
                call(conns[i], "record_usage_batch", {"events": batch_for(i)})

    race_each(range(clients), worker)

    # 4 distinct key sets (clients 2k and 2k+1 share one) of 15 events of 20 per workspace: 1200, past both limits
    for ws in workspaces:
        used, events = one(
            db,
            "select ul.used, (select count(*) from public.usage_events e where e.workspace_id = ul.workspace_id)"
            " from public.usage_limits ul where ul.workspace_id = %s and ul.metric = 'messages'", (ws.id,)
        )
        assert (used, events) == (4 * 15 * 20, 4 * 15)
        types = db.execute("select type from public.alerts where workspace_id = %s order by type", (ws.id,)).fetchall()
        assert types == [("usage_blocked",), ("usage_warning",)]


def _wait_until_waiting(db: psycopg.Connection, waiter: psycopg.Connection) -> None:
    """Wait until ``waiter``'s session waits on a lock (bounded; the test fails otherwise)."""
    for _ in range(400):
        row = db.execute("select pg_blocking_pids(%s) <> '{}'", (waiter.info.backend_pid,)).fetchone()
        if row is not None and row[0]:
            return
        time.sleep(0.025)
    pytest.fail(f"session {waiter.info.backend_pid} never waited on a lock")


def _in_thread(fn: Any, out: dict[str, Any], key: str) -> threading.Thread:
    def run() -> None:
        try:
            out[key] = fn()
        except BaseException as exc:  # noqa: BLE001 - asserted by the test
            out[key] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_batch_and_a_single_call_carrying_the_same_key_at_once_never_deadlock(
    factories: Factories, db: psycopg.Connection, connect: Connect
) -> None:
    ws = factories.workspace()
    call(connect(), "record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1})  # the period's rows
    holder, single, batch = connect(), connect(), connect()
    out: dict[str, Any] = {}
    # A third session holds the period row, so the single call queues for it first,
    # then the batch (holding its key) queues behind it: once the row is free, the
    # single call takes it and waits for the batch's key while the batch waits for
    # the row. The batch gives way (lock_timeout) and takes the row first instead.
    holder.execute("begin")
    holder.execute("select 1 from public.usage_limits where workspace_id = %s and metric = 'sms' for no key update",
                   (ws.id,))
    single_thread = _in_thread(
        lambda: call(single, "record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 2,
                                              "idempotency_key": "same"}).data, out, "single")
    _wait_until_waiting(db, single)
    batch_thread = _in_thread(
        lambda: call(batch, "record_usage_batch", {"events": [ev(ws, 2, key="same"), ev(ws, 3, key="other")]}).data,
        out, "batch")
    _wait_until_waiting(db, batch)
    holder.execute("commit")
    single_thread.join(timeout=60)
    batch_thread.join(timeout=60)

    assert not isinstance(out.get("single"), BaseException), out
    assert not isinstance(out.get("batch"), BaseException), out
    assert db.execute("select used from public.usage_limits where workspace_id = %s and metric = 'sms'",
                      (ws.id,)).fetchone() == (Decimal(6),)
    assert db.execute("select count(*) from public.usage_events where idempotency_key = 'same'").fetchone() == (1,)
    assert out["single"]["duplicate"] is False or out["batch"]["results"][0]["duplicate"] is False
    assert [r["duplicate"] for r in out["batch"]["results"]][1] is False


def test_a_batch_racing_a_plan_change_bills_on_the_new_terms(
    factories: Factories, db: psycopg.Connection, connect: Connect
) -> None:
    ws = factories.workspace()
    call(connect(), "record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1})
    changer, batch = connect(), connect()
    out: dict[str, Any] = {}
    changer.execute("begin")
    changer.execute("update public.workspaces set plan_key = 'pro' where id = %s", (ws.id,))
    changer.execute("select private.on_plan_change(%s, 'pro', 'upgrade during a batch')", (ws.id,))
    batch_thread = _in_thread(
        lambda: call(batch, "record_usage_batch", {"events": [ev(ws, 4, key="b1")]}).data, out, "batch")
    _wait_until_waiting(db, batch)
    changer.execute("commit")
    batch_thread.join(timeout=60)

    assert not isinstance(out.get("batch"), BaseException), out
    assert out["batch"]["results"][0]["limit_state"] == "ok"
    assert db.execute(
        "select t.plan_key from public.usage_events as e join public.tier_snapshots as t on t.id = e.tier_snapshot_id"
        " where e.idempotency_key = 'b1'"
    ).fetchone() == ("pro",)
    assert db.execute("select used, plan_key from public.usage_limits where workspace_id = %s and metric = 'sms'",
                      (ws.id,)).fetchone() == (Decimal(5), "pro")


def test_a_batch_waiting_for_another_batchs_rows_adds_to_the_total_that_batch_left(
    factories: Factories, db: psycopg.Connection, connect: Connect
) -> None:
    ws = factories.workspace()  # free: sms soft 40, hard 50
    call(connect(), "record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1})  # the period's rows
    first, second = connect(), connect()
    out: dict[str, Any] = {}
    # The first batch crosses the soft limit and keeps its transaction open, holding
    # the period row; the second waits for the row, then crosses the hard limit on
    # the total the first left (the row is updated where the second's lock found it).
    first.execute("begin")
    held = call(first, "record_usage_batch", {"events": [ev(ws, 20, key="f1"), ev(ws, 20, key="f2")]}).data
    thread = _in_thread(
        lambda: call(second, "record_usage_batch", {"events": [ev(ws, 5, key="s1"), ev(ws, 5, key="s2")]}).data,
        out, "second")
    _wait_until_waiting(db, second)
    first.execute("commit")
    thread.join(timeout=60)

    assert not isinstance(out.get("second"), BaseException), out
    assert [(r["used"], r["limit_state"]) for r in held["results"]] == [(21, "ok"), (41, "warning")]
    assert [(r["used"], r["limit_state"]) for r in out["second"]["results"]] == [(46, "warning"), (51, "blocked")]
    assert db.execute("select used, limit_state from public.usage_limits where workspace_id = %s and metric = 'sms'",
                      (ws.id,)).fetchone() == (Decimal(51), "blocked")
    types = db.execute("select type from public.alerts where workspace_id = %s order by type", (ws.id,)).fetchall()
    assert types == [("usage_blocked",), ("usage_warning",)]


def test_a_batch_leaves_its_period_rows_locked_by_no_other_transaction(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    # The batch locks its period rows and adds to them in the same sub-transaction.
    # Locked by a sub-transaction and updated by its parent, a row would carry the
    # sub-transaction's lock (and its old version a MultiXact of both xids) that
    # every later lock of the row reads through.
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 1})  # the period's rows
    rpc("record_usage_batch", {"events": [ev(ws, 2, key="k1"), ev(ws, 3, "messages", key="k2"), ev(ws, 4, key="k3")]})

    rows = db.execute(
        "select metric, used, xmin::text, xmax::text from public.usage_limits"
        " where workspace_id = %s and metric in ('sms', 'messages') order by metric",
        (ws.id,),
    ).fetchall()
    assert [(metric, used) for metric, used, _, _ in rows] == [("messages", Decimal(3)), ("sms", Decimal(7))]
    assert all(xmax in ("0", xmin) for _, _, xmin, xmax in rows), rows
