"""A period's tier snapshot is taken when the period starts (the nightly
private.open_usage_periods) and at every plan change, so a period whose first usage
comes late still bills on the terms in force at its start."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from harness.factories import Factories
from harness.rows import scalar
from harness.testing import Rpc
from tests.support.usage import ChangePlan, UsageReader


def _reprice_free_sms(db: psycopg.Connection) -> None:
    """Terms change mid-period: free's sms price and limits (a migration could do this)."""
    db.execute("update public.plan_limits set unit_price_minor = 99, soft_limit = 4, hard_limit = 5"
               " where plan_key = 'free' and metric = 'sms'")


def test_the_nightly_job_opens_every_workspaces_period_and_a_late_first_usage_bills_on_its_terms(
    rpc: Rpc, factories: Factories, db: psycopg.Connection, usage: UsageReader
) -> None:
    first, second = factories.workspace(), factories.workspace()

    opened = scalar(db, "select private.open_usage_periods()")

    assert (opened["status"], opened["opened"], opened["errors"]) == ("succeeded", 2, [])
    for ws in (first, second):
        assert [(plan, reason) for _, plan, reason in usage.snapshots(ws.id)] == [("free", "period_start")]
        assert usage.limits(ws.id, "sms")["used"] == 0
    _reprice_free_sms(db)

    result = rpc("record_usage", {"workspace_id": str(first.id), "metric": "sms", "quantity": 10})

    assert (result["soft_limit"], result["hard_limit"], result["limit_state"]) == (40, 50, "ok")
    db.execute("select private.write_billing_line_items(%s, private.usage_period())", (first.id,))
    line = db.execute(
        "select unit_price_minor, amount_minor from public.billing_line_items where workspace_id = %s", (first.id,)
    ).fetchone()
    assert line == (Decimal(50), Decimal(500))  # free's sms price at the period's start


def test_the_job_is_idempotent_logged_and_scheduled_nightly(db: psycopg.Connection, factories: Factories) -> None:
    factories.workspace()
    db.execute("select private.open_usage_periods()")
    again = scalar(db, "select private.open_usage_periods()")

    assert (again["status"], again["opened"]) == ("succeeded", 0)
    assert db.execute("select count(*) from public.tier_snapshots").fetchone() == (1,)
    runs = db.execute("select status, result ->> 'opened' from public.job_runs where job_name = 'usage_periods'"
                      " order by id").fetchall()
    assert runs == [("succeeded", "1"), ("succeeded", "0")]
    assert db.execute("select schedule, command from cron.job where jobname = 'usage-periods'").fetchone() == (
        "5 0 * * *", "select private.open_usage_periods()"
    )


def test_a_workspace_that_fails_to_open_is_recorded_and_the_others_still_open(
    db: psycopg.Connection, factories: Factories
) -> None:
    good, broken = factories.workspace(), factories.workspace()
    # a plan without a currency-complete row cannot be snapshotted: simulate with a trigger refusing one workspace
    db.execute(
        """
        create function public.test_refuse_snapshot() returns trigger language plpgsql as $$
        begin
            if new.workspace_id = %s::uuid then raise exception 'snapshot store is down'; end if;
            return new;
        end $$;
        create trigger test_refuse_snapshot before insert on public.tier_snapshots
        for each row execute function public.test_refuse_snapshot();
        """.replace("%s", f"'{broken.id}'")
    )

    result = scalar(db, "select private.open_usage_periods()")

    assert (result["status"], result["opened"]) == ("partial", 1)
    assert [(e["step"], e["message"]) for e in result["errors"]] == [(str(broken.id), "snapshot store is down")]
    assert db.execute("select workspace_id from public.tier_snapshots").fetchall() == [(good.id,)]
    assert db.execute("select count(*) from public.alerts where dedupe_key = 'job_failure:usage_periods'"
                      " and resolved_at is null").fetchone() == (1,)
    db.execute("drop trigger test_refuse_snapshot on public.tier_snapshots")
    assert scalar(db, "select private.open_usage_periods()")["opened"] == 1
    # the job succeeding again resolves its failure alert
    assert scalar(
        db,
        "select resolution from public.alerts where dedupe_key = 'job_failure:usage_periods'"
    ).startswith("auto: job usage_periods run ")


def test_a_plan_change_snapshots_the_new_terms_for_the_rest_of_the_period(
    rpc: Rpc, factories: Factories, db: psycopg.Connection, usage: UsageReader, change_plan: ChangePlan
) -> None:
    ws = factories.workspace()
    db.execute("select private.open_usage_periods()")
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 3})
    change_plan(ws.id, "pro")
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 4})

    assert [(plan, reason) for _, plan, reason in usage.snapshots(ws.id)] == [
        ("free", "period_start"), ("pro", "plan_change")
    ]
    db.execute("select private.write_billing_line_items(%s, private.usage_period())", (ws.id,))
    lines = db.execute(
        "select plan_key, quantity, unit_price_minor from public.billing_line_items where workspace_id = %s"
        " order by tier_snapshot_id", (ws.id,)
    ).fetchall()
    assert lines == [("free", Decimal(3), Decimal(50)), ("pro", Decimal(4), Decimal(40))]


def test_api_users_cannot_open_periods(db: psycopg.Connection) -> None:
    for role in ("authenticated", "anon"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
            db.execute(f"set local role {role}")
            db.execute("select private.open_usage_periods()")
