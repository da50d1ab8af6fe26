"""run_retention_cleanup: expired rows go, everything else stays, every run is logged."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from harness.factories import Factories
from harness.rows import scalar
from harness.rpc import ANON, RpcError, user
from harness.testing import Connect, Rpc


def _delivery(db: psycopg.Connection, status: str, age_days: int) -> int:
    return scalar(
        db,
        """
        insert into public.webhook_queue (provider, idempotency_key, status, payload, received_at)
        values ('twilio', %s, %s, %s, now() - make_interval(days => %s))
        returning id
        """,
        ("sms:SM" + uuid.uuid4().hex, status, Jsonb({"MessageSid": "SM0"}), age_days),
    )


def _unknown(db: psycopg.Connection, last_seen_days: int) -> int:
    return scalar(
        db,
        """
        insert into public.unknown_phone (provider, channel_type, phone_number, first_seen_at, last_seen_at)
        values ('twilio', 'sms', %s, now() - interval '400 days', now() - make_interval(days => %s))
        returning id
        """,
        ("+1555" + str(uuid.uuid4().int)[:7], last_seen_days),
    )


def _alert(db: psycopg.Connection, resolved_days: int | None, acknowledged_days: int | None = None) -> int:
    return scalar(
        db,
        """
        insert into public.alerts (type, dedupe_key, message, created_at, acknowledged_at, resolved_at, resolution)
        values ('probe', %(key)s, 'probe', now() - interval '400 days',
                now() - make_interval(days => %(acked)s::int),
                now() - make_interval(days => %(resolved)s::int),
                case when %(resolved)s::int is not null then 'auto: probe' end)
        returning id
        """,
        {"key": "probe:" + uuid.uuid4().hex, "acked": acknowledged_days, "resolved": resolved_days},
    )


def _job_run(db: psycopg.Connection, age_days: int) -> int:
    return scalar(
        db,
        """
        insert into public.job_runs (job_name, status, started_by_role, started_at, finished_at)
        values ('probe', 'succeeded', 'postgres', now() - make_interval(days => %s), now() - make_interval(days => %s))
        returning id
        """,
        (age_days, age_days),
    )


def _counter(db: psycopg.Connection, ws: Any, bucket: str, age_days: int) -> None:
    db.execute(
        """
        insert into private.rate_limit_counters (workspace_id, bucket, tat)
        values (%s, %s, date_trunc('minute', now()) - make_interval(days => %s))
        """,
        (ws.id, bucket, age_days),
    )


def _exists(db: psycopg.Connection, table: str, id_: int) -> bool:
    return scalar(db, f"select exists (select from public.{table} where id = %s)", (id_,))


def test_expired_rows_are_deleted_and_everything_else_is_kept(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = factories.workspace()
    old_done = [_delivery(db, s, 31) for s in ("processed", "duplicate", "rejected", "unknown_phone")]
    old_failed = _delivery(db, "failed", 400)  # waiting for a retry: never expires
    old_queued = _delivery(db, "queued", 400)  # not processed yet: never expires
    recent = _delivery(db, "processed", 29)
    dead_old, dead_recent = _delivery(db, "dead_letter", 91), _delivery(db, "dead_letter", 60)
    unknown_old, unknown_recent = _unknown(db, 91), _unknown(db, 10)
    resolved_old, resolved_recent, open_old = _alert(db, 181), _alert(db, 30), _alert(db, None)
    acknowledged_long_ago = _alert(db, None, acknowledged_days=300)  # still open: never expires
    run_old, run_recent = _job_run(db, 181), _job_run(db, 30)
    _counter(db, ws, "api", 2)  # a workspace's window not touched for two days
    _counter(db, ws, "sms", 0)

    result = rpc("run_retention_cleanup")

    assert result["status"] == "succeeded"
    assert result["errors"] == [] and result["more"] == []
    assert result["deleted"] == {
        "webhook_queue": 5, "unknown_phone": 1, "alerts": 1, "job_runs": 1, "rate_limit_counters": 1,
    }
    assert not any(_exists(db, "webhook_queue", i) for i in [*old_done, dead_old])
    assert all(_exists(db, "webhook_queue", i) for i in (old_failed, old_queued, recent, dead_recent))
    assert not _exists(db, "unknown_phone", unknown_old) and _exists(db, "unknown_phone", unknown_recent)
    assert not _exists(db, "alerts", resolved_old)
    assert all(_exists(db, "alerts", i) for i in (resolved_recent, open_old, acknowledged_long_ago))
    assert not _exists(db, "job_runs", run_old) and _exists(db, "job_runs", run_recent)
    assert scalar(db, "select count(*) from private.rate_limit_counters where workspace_id = %s", (ws.id,)) == 1


def test_refusal_counts_of_minutes_past_go_with_the_limiter_state(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = factories.workspace()
    db.execute(
        """
        insert into private.rate_limit_refusals (workspace_id, bucket, slot, minute, refusals)
        select %s, 'api', (floor(extract(epoch from m) / 60)::bigint %% 1440)::smallint, m, 3
        from (values (date_trunc('minute', now()) - interval '25 hours'),
                     (date_trunc('minute', now()) - interval '2 hours')) as v (m)
        """,
        (ws.id,),
    )

    result = rpc("run_retention_cleanup")

    assert result["status"] == "succeeded" and result["deleted"]["rate_limit_counters"] == 1
    left = db.execute(
        "select now() - minute < interval '1 day' from private.rate_limit_refusals where workspace_id = %s", (ws.id,)
    ).fetchall()
    assert left == [(True,)]


KEPT_FOREVER = (
    "audit_logs", "usage_events", "usage_limits", "tier_snapshots", "billing_line_items", "workspace_wallets",
    "wallet_ledger", "payments", "subscriptions",
)


def test_audit_logs_billing_data_and_usage_events_are_never_deleted(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = factories.workspace()
    admin = factories.platform_admin()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 2})
    rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 5, "reason": "probe"})
    rpc("generate_billing_line_items", {"workspace_id": str(ws.id)})
    payment = rpc(
        "create_payment_request", {"workspace_id": str(ws.id), "plan_key": "pro", "provider": "instapay"},
        as_=ws.owner.jwt,
    )
    rpc("confirm_instapay_payment", {"payment_id": payment["payment_id"], "bank_reference": "IPN-RETENTION"},
        as_=admin.jwt)
    # Every timestamp ten years earlier (shifted together, so their order and the
    # tables' checks hold), and every retention window at its shortest: nothing
    # could look more expired.
    for table in KEPT_FOREVER:
        columns = [r[0] for r in db.execute(
            "select column_name from information_schema.columns where table_schema = 'public' and table_name = %s"
            " and data_type = 'timestamp with time zone'",
            (table,),
        )]
        shift = ", ".join(f"{c} = {c} - interval '10 years'" for c in columns)
        db.execute(f"alter table public.{table} disable trigger user")
        db.execute(f"update public.{table} set {shift}")
        db.execute(f"alter table public.{table} enable trigger user")
    db.execute("update public.retention_policies set keep_days = 1")

    def counts() -> dict[str, int]:
        return {t: scalar(db, f"select count(*) from public.{t}") for t in KEPT_FOREVER}

    before = counts()
    assert all(n > 0 for n in before.values()), before

    result = rpc("run_retention_cleanup")

    assert result["status"] == "succeeded"
    assert counts() == before


@pytest.mark.parametrize("name", ["audit_logs", "usage_events", "billing_line_items", "wallet_ledger", "payments"])
def test_retention_cannot_be_configured_for_kept_tables(db: psycopg.Connection, name: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation), db.transaction():
        db.execute(
            "insert into public.retention_policies (name, keep_days, description) values (%s, 1, 'must not')", (name,)
        )


def test_running_it_again_deletes_nothing_more_and_logs_each_run(rpc: Rpc, db: psycopg.Connection) -> None:
    _delivery(db, "processed", 40)
    first = rpc("run_retention_cleanup")
    second = rpc("run_retention_cleanup")

    assert first["deleted"]["webhook_queue"] == 1
    assert set(second["deleted"].values()) == {0}
    runs = db.execute(
        "select id, status, result -> 'deleted', started_by_role from public.job_runs"
        " where job_name = 'retention_cleanup' order by id"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in runs] == [
        (first["job_run_id"], "succeeded", first["deleted"], "service_role"),
        (second["job_run_id"], "succeeded", second["deleted"], "service_role"),
    ]


def test_a_failing_step_is_recorded_and_the_other_steps_still_commit(rpc: Rpc, db: psycopg.Connection) -> None:
    expired_delivery, expired_number = _delivery(db, "processed", 40), _unknown(db, 100)
    db.execute(
        """
        create function public.refuse_delete() returns trigger language plpgsql as
        $$ begin raise exception 'unknown_phone is locked for an investigation'; end $$
        """
    )
    db.execute(
        "create trigger refuse_delete before delete on public.unknown_phone"
        " for each statement execute function public.refuse_delete()"
    )

    first = rpc("run_retention_cleanup")
    second = rpc("run_retention_cleanup")

    assert first["status"] == "partial"
    assert first["errors"] == [
        {"step": "unknown_phone", "sqlstate": "P0001", "message": "unknown_phone is locked for an investigation"}
    ]
    assert first["deleted"]["webhook_queue"] == 1 and first["deleted"]["unknown_phone"] == 0
    assert not _exists(db, "webhook_queue", expired_delivery)
    assert _exists(db, "unknown_phone", expired_number)
    logged = db.execute("select status, errors from public.job_runs where id = %s", (first["job_run_id"],)).fetchone()
    assert logged == ("partial", first["errors"])
    # One open job_failure alert for the job, however often it fails.
    assert second["status"] == "partial"
    alerts = db.execute(
        "select severity, details ->> 'job_run_id' from public.alerts where type = 'job_failure'"
        " and dedupe_key = 'job_failure:retention_cleanup'"
    ).fetchall()
    assert alerts == [("warning", str(first["job_run_id"]))]


def test_a_backlog_beyond_the_time_budget_is_left_for_the_next_run_and_alerted(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = factories.workspace()
    db.execute(
        """
        insert into private.rate_limit_counters (workspace_id, bucket, tat)
        select %s, 'bucket_' || g, date_trunc('minute', now()) - interval '2 days' - make_interval(mins => g)
        from generate_series(1, 25010) as g
        """,
        (ws.id,),
    )

    # No time budget: every policy gets its one batch of 10,000 and no more.
    first = scalar(db, "select private._run_retention_cleanup(max_seconds => 0)")
    second = rpc("run_retention_cleanup")

    assert (first["deleted"]["rate_limit_counters"], first["more"]) == (10000, ["rate_limit_counters"])
    assert (second["deleted"]["rate_limit_counters"], second["more"]) == (15010, [])
    assert scalar(db, "select count(*) from private.rate_limit_counters where workspace_id = %s", (ws.id,)) == 0
    alerts = db.execute(
        "select severity, details -> 'more', details ->> 'job_run_id' from public.alerts where type = 'retention_backlog'"
    ).fetchall()
    assert alerts == [("warning", ["rate_limit_counters"], str(first["job_run_id"]))]


def test_a_run_whose_every_step_fails_is_failed_with_a_critical_alert(rpc: Rpc, db: psycopg.Connection) -> None:
    db.execute(
        "create function public.refuse_delete() returns trigger language plpgsql as"
        " $$ begin raise exception 'no deletes today'; end $$"
    )
    for table in ("public.webhook_queue", "public.unknown_phone", "public.alerts", "public.job_runs",
                  "private.rate_limit_counters"):
        db.execute(
            f"create trigger refuse_delete before delete on {table}"
            " for each statement execute function public.refuse_delete()"
        )

    result = rpc("run_retention_cleanup")

    assert result["status"] == "failed"
    assert sorted(e["step"] for e in result["errors"]) == [
        "acknowledged_alerts", "job_runs", "rate_limit_counters", "unknown_phone", "webhook_dead_letters",
        "webhook_deliveries",
    ]
    assert db.execute("select status from public.job_runs where id = %s", (result["job_run_id"],)).fetchone() == (
        "failed",
    )
    alert = db.execute(
        "select severity, details ->> 'job_run_id' from public.alerts where dedupe_key = 'job_failure:retention_cleanup'"
    ).fetchall()
    assert alert == [("critical", str(result["job_run_id"]))]


@pytest.mark.parametrize("caller", ["anon", "authenticated", "platform_admin"])
def test_only_service_role_runs_it(rpc: Rpc, db: psycopg.Connection, factories: Factories, caller: str) -> None:
    expired = _delivery(db, "processed", 40)
    jwt = {
        "anon": ANON,
        "authenticated": user(factories.user().id),
        "platform_admin": user(factories.platform_admin().id),
    }[caller]

    with pytest.raises(RpcError) as err:
        rpc("run_retention_cleanup", as_=jwt)

    assert err.value.sqlstate == "42501"
    assert _exists(db, "webhook_queue", expired)
    assert scalar(db, "select count(*) from public.job_runs") == 0


def test_runs_of_the_job_never_overlap(connect: Connect, db: psycopg.Connection) -> None:
    _delivery(db, "processed", 40)
    first, second = connect(autocommit=False), connect()
    first.execute("select public.run_retention_cleanup()")  # holds the job's lock until it commits
    pid = scalar(second, "select pg_backend_pid()")
    answers: list[Any] = []
    runner = threading.Thread(target=lambda: answers.append(scalar(second, "select public.run_retention_cleanup()")))
    runner.start()
    waiting = False
    for _ in range(100):
        waiting = scalar(
            db,
            "select exists (select from pg_locks where pid = %s and locktype = 'advisory' and not granted)", (pid,)
        )
        if waiting:
            break
        time.sleep(0.05)
    assert waiting, "the second run must wait for the first"
    first.commit()
    runner.join(timeout=30)

    assert len(answers) == 1
    assert answers[0]["deleted"]["webhook_queue"] == 0  # the first run had already deleted it
