"""Tier snapshots and billing line items: historical prices, traceable to events, idempotent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, Workspace
from harness.race import race
from harness.rows import scalar
from harness.rpc import RpcError, call
from harness.testing import Connect, Rpc


def _record(rpc: Rpc, ws: Workspace, metric: str, quantity: Any) -> Any:
    return rpc("record_usage", {"workspace_id": str(ws.id), "metric": metric, "quantity": quantity})


def _change_plan(db: psycopg.Connection, ws: Workspace, plan_key: str) -> None:
    with db.transaction():
        db.execute("update public.workspaces set plan_key = %s where id = %s", (plan_key, ws.id))
        db.execute("select private.on_plan_change(%s, %s, 'upgrade')", (ws.id, plan_key))


def test_a_plan_change_mid_period_bills_earlier_usage_at_the_old_snapshot_price(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace(plan_key="pro")
    _record(rpc, ws, "call_minutes", 10)
    _record(rpc, ws, "call_minutes", 5)
    _change_plan(db, ws, "business")
    _record(rpc, ws, "call_minutes", 20)

    bill = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})

    lines = [(l["plan_key"], l["quantity"], l["unit_price_minor"], l["amount_minor"]) for l in bill["lines"]]
    assert lines == [("pro", 15, 120, 1800), ("business", 20, 100, 2000)]
    assert bill["total_minor"] == 3800


def test_a_past_period_keeps_its_terms_when_plan_prices_change_later(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace(plan_key="pro")
    _record(rpc, ws, "sms", 10)
    db.execute("update public.plan_limits set unit_price_minor = 999 where plan_key = 'pro' and metric = 'sms'")
    _record(rpc, ws, "sms", 10)

    bill = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})

    assert [(l["quantity"], l["unit_price_minor"]) for l in bill["lines"]] == [(20, 40)]


def test_line_items_sum_to_the_usage_events_they_cite(rpc: Rpc, factories: Factories, db: psycopg.Connection) -> None:
    ws, other = factories.workspace(), factories.workspace()
    for q in (1, 2, 3):
        _record(rpc, ws, "messages", q)
        _record(rpc, other, "messages", 10 * q)
        _record(rpc, ws, "llm_tokens", 1000 * q)
    _change_plan(db, ws, "pro")
    _record(rpc, ws, "messages", 4)

    bill = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})

    assert len(bill["lines"]) == 3
    for line in bill["lines"]:
        cited = db.execute(
            """
            select count(*), sum(e.quantity), sum(e.quantity) * %s
            from public.usage_events as e
            where e.workspace_id = %s and e.metric = %s and e.tier_snapshot_id = %s
                and e.id between %s and %s
            """,
            (line["unit_price_minor"], ws.id, line["metric"], line["tier_snapshot_id"],
             line["first_event_id"], line["last_event_id"]),
        ).fetchone()
        assert cited == (line["event_count"], Decimal(str(line["quantity"])), Decimal(str(line["amount_minor"])))
    total_events = scalar(
        db,
        "select sum(quantity) from public.usage_events where workspace_id = %s", (ws.id,)
    )
    assert sum(Decimal(str(l["quantity"])) for l in bill["lines"]) == total_events


def test_each_line_is_a_whole_number_of_minor_units_rounded_half_up(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace(plan_key="pro")  # llm_tokens at 0.0015 minor units each
    _record(rpc, ws, "llm_tokens", 1234)  # 1.851 -> 2
    _record(rpc, ws, "sms", "2.5")  # 2.5 x 40 = 100 exactly

    bill = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})

    amounts = {l["metric"]: (l["quantity"], l["amount_minor"]) for l in bill["lines"]}
    assert amounts == {"llm_tokens": (1234, 2), "sms": (2.5, 100)}
    assert bill["total_minor"] == 102
    _record(rpc, ws, "llm_tokens", 1000)  # 2234 x 0.0015 = 3.351 -> 3
    again = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})
    assert {l["metric"]: l["amount_minor"] for l in again["lines"]} == {"llm_tokens": 3, "sms": 100}


def test_half_a_minor_unit_rounds_up(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace(plan_key="pro")
    _record(rpc, ws, "llm_tokens", 1000)  # 1.5 -> 2 (half even would give 2 too: add 1.5 more)
    _record(rpc, ws, "llm_tokens", 1000)  # 3.0
    _record(rpc, ws, "llm_tokens", 1000)  # 4.5 -> 5 (half even would give 4)

    bill = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})

    assert [(l["quantity"], l["amount_minor"]) for l in bill["lines"]] == [(3000, 5)]


def test_a_line_written_before_amounts_were_rounded_is_rounded_when_regenerated(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace(plan_key="pro")
    _record(rpc, ws, "llm_tokens", 1234)
    rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})
    db.execute("update public.billing_line_items set amount_minor = 1.8510 where workspace_id = %s", (ws.id,))

    bill = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})

    assert bill["lines_written"] == 1
    assert db.execute(
        "select amount_minor from public.billing_line_items where workspace_id = %s", (ws.id,)
    ).fetchone() == (2,)


def test_regenerating_line_items_changes_nothing(rpc: Rpc, factories: Factories, db: psycopg.Connection) -> None:
    ws = factories.workspace()
    _record(rpc, ws, "sms", 3)
    _record(rpc, ws, "call_minutes", 1.5)
    first = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})
    rows_before = db.execute("select * from public.billing_line_items order by id").fetchall()

    again = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})

    assert first["lines_written"] == 2 and again["lines_written"] == 0
    assert again["lines"] == first["lines"]
    assert db.execute("select * from public.billing_line_items order by id").fetchall() == rows_before
    # new usage updates the same line instead of adding one
    _record(rpc, ws, "sms", 2)
    third = rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})
    assert third["lines_written"] == 1
    assert [l["id"] for l in third["lines"]] == [l["id"] for l in first["lines"]]


def test_the_nightly_job_generates_every_workspace_of_the_period(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    a, b = factories.workspace(), factories.workspace()
    _record(rpc, a, "sms", 1)
    _record(rpc, b, "sms", 1)
    first = scalar(db, "select private.generate_all_billing_line_items(private.usage_period())")
    again = scalar(db, "select private.generate_all_billing_line_items(private.usage_period())")

    assert (first["status"], first["workspaces"], first["lines_written"]) == ("succeeded", 2, 2)
    assert (again["status"], again["workspaces"], again["lines_written"]) == ("succeeded", 2, 0)
    runs = db.execute(
        "select id, status, result ->> 'lines_written' from public.job_runs"
        " where job_name = 'billing_line_items' order by id"
    ).fetchall()
    assert runs == [(first["job_run_id"], "succeeded", "2"), (again["job_run_id"], "succeeded", "0")]


def test_a_workspace_that_fails_in_the_nightly_job_does_not_stop_the_others(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    a, b = factories.workspace(), factories.workspace()
    _record(rpc, a, "sms", 1)
    _record(rpc, b, "sms", 1)
    db.execute(
        """
        create function public.refuse_line() returns trigger language plpgsql as
        $$ begin raise exception 'no lines for %', new.workspace_id; end $$
        """
    )
    db.execute(
        "create trigger refuse_line before insert on public.billing_line_items for each row"
        " when (new.workspace_id = '%s') execute function public.refuse_line()" % a.id
    )

    result = scalar(db, "select private.generate_all_billing_line_items(private.usage_period())")

    assert (result["status"], result["workspaces"], result["lines_written"]) == ("partial", 1, 1)
    assert result["errors"] == [{"step": str(a.id), "sqlstate": "P0001", "message": f"no lines for {a.id}"}]
    lines = db.execute("select workspace_id from public.billing_line_items").fetchall()
    assert lines == [(b.id,)]
    assert scalar(db, "select count(*) from public.alerts where type = 'job_failure'") == 1


def test_line_items_are_for_service_role_and_admins(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace()
    admin = factories.platform_admin()
    assert rpc("generate_billing_line_items", {"workspace_id": str(ws.id)}, as_=admin.jwt)["lines"] == []
    with pytest.raises(RpcError) as caught:
        rpc("generate_billing_line_items", {"workspace_id": str(ws.id)}, as_=ws.owner.jwt)
    assert caught.value.sqlstate == "42501"
    with pytest.raises(RpcError) as missing:
        rpc("generate_billing_line_items", {"workspace_id": "00000000-0000-4000-8000-000000000000"})
    assert missing.value.sqlstate == "PT404"


def test_each_period_starts_with_its_own_snapshot_and_a_plan_change_leaves_past_periods_alone(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace(plan_key="pro")
    past = "2026-01-01"
    db.execute("select private.ensure_usage_period(%s, %s)", (ws.id, past))
    db.execute("select private.ensure_usage_period(%s, %s)", (ws.id, past))  # idempotent

    _change_plan(db, ws, "business")

    snapshots = db.execute(
        "select period_start::text, plan_key, reason from public.tier_snapshots where workspace_id = %s order by id",
        (ws.id,),
    ).fetchall()
    assert snapshots[0] == (past, "pro", "period_start")
    assert snapshots[-1][1:] == ("business", "plan_change")
    assert len([s for s in snapshots if s[0] == past]) == 1
    past_limits = db.execute(
        "select plan_key, hard_limit from public.usage_limits where workspace_id = %s and period_start = %s"
        " and metric = 'sms'",
        (ws.id, past),
    ).fetchone()
    assert past_limits == ("pro", 500)
    assert rpc("generate_billing_line_items", {"workspace_id": str(ws.id), "period_start": past})["lines"] == []


def test_a_plan_change_during_concurrent_usage_splits_the_bill_exactly(
    factories: Factories, db: psycopg.Connection, connect: Connect
) -> None:
    ws = factories.workspace(plan_key="pro")
    first = connect()
    call(first, "record_usage", {"workspace_id": str(ws.id), "metric": "call_minutes", "quantity": 1})
    conns = [connect() for _ in range(6)]
    changer = connect()

    def record(conn: psycopg.Connection) -> None:
        for _ in range(25):
            call(conn, "record_usage", {"workspace_id": str(ws.id), "metric": "call_minutes", "quantity": 1})

    def change_plan() -> None:
        with changer.transaction():
            changer.execute("update public.workspaces set plan_key = 'business' where id = %s", (ws.id,))
            changer.execute("select private.on_plan_change(%s, 'business', 'mid-flight upgrade')", (ws.id,))

    workers: list[Callable[[], None]] = [*(partial(record, conn) for conn in conns), change_plan]
    race(workers)
    call(first, "record_usage", {"workspace_id": str(ws.id), "metric": "call_minutes", "quantity": 1})
    used = db.execute(
        "select used, plan_key from public.usage_limits where workspace_id = %s and metric = 'call_minutes'", (ws.id,)
    ).fetchone()
    assert used == (152, "business")
    bill = db.execute(
        "select private.write_billing_line_items(%s, private.usage_period())", (ws.id,)
    ).fetchone()
    lines = db.execute(
        "select plan_key, quantity, unit_price_minor, first_event_id, last_event_id from public.billing_line_items"
        " where workspace_id = %s order by tier_snapshot_id",
        (ws.id,),
    ).fetchall()
    assert bill is not None
    assert sum(q for _, q, _, _, _ in lines) == 152
    assert all(price == {"pro": 120, "business": 100}[plan] for plan, _, price, _, _ in lines)
    assert [plan for plan, *_ in lines] == ["pro", "business"]
    # every event under the old terms was recorded before every event under the new ones
    assert lines[0][4] < lines[1][3]
