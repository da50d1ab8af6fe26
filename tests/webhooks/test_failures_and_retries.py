"""A processing failure leaves the raw row failed with its error; the sweeper retries it
with exponential backoff, claims rows FOR UPDATE SKIP LOCKED so concurrent sweepers
never double-process, and dead-letters after the last attempt with one alert.

Deliveries are made as providers make them (acknowledged queued, then processed by
the drain, where the failure happens), except where the test is about a failure
inside the ingest call itself (process_now)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
import pytest

from harness.rpc import RpcError, call
from tests.cron_probes import CronProbes
from tests.support.webhooks import AgentOnNumber, Ops, Sign, e164, twilio_inbound_sms

from harness.rows import scalar


def _failed_delivery(deliver, sign: Sign, ops: Ops) -> tuple[dict[str, Any], AgentOnNumber]:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events", "sms store is down")
    result = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    return result, agent


def test_processing_failure_leaves_the_raw_row_failed_with_its_error(deliver, sign: Sign, ops: Ops) -> None:
    result, agent = _failed_delivery(deliver, sign, ops)

    assert result["status"] == "failed" and result["duplicate"] is False
    assert result["error"] == "P0001: sms store is down"
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["last_error"], row["signature_valid"]) == (
        "failed",
        1,
        "P0001: sms store is down",
        True,
    )
    assert row["raw_body"] and row["payload"]["To"] == agent.phone_number
    # The first retry is due a minute after the failed attempt (the drain's transaction).
    delay = ops.scalar(
        "select extract(epoch from q.next_attempt_at - r.started_at) from public.webhook_queue as q"
        " cross join public.job_runs as r where r.job_name = 'webhook_drain'"
    )
    assert float(delay) == 60.0
    assert ops.count("sms_events") == 0
    assert ops.count("usage_events") == 0


def test_sweeper_processes_the_failed_delivery_once_it_is_due(deliver, rpc, sign: Sign, ops: Ops) -> None:
    result, agent = _failed_delivery(deliver, sign, ops)
    ops.heal("sms_events")

    assert rpc("retry_failed_webhooks", {})["retried"] == 0  # not due for another minute
    ops.make_due()
    summary = rpc("retry_failed_webhooks", {})

    run_id = summary.pop("job_run_id")
    assert summary == {"retried": 1, "succeeded": 1, "dead_lettered": 0, "failed": 0, "rejected": 0, "duplicate": 0}
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["last_error"], row["next_attempt_at"]) == ("processed", 2, None, None)
    assert ops.count("sms_events") == 1
    assert ops.usage(agent.workspace_id, "sms") == 1
    assert rpc("retry_failed_webhooks", {}) == {
        "retried": 0, "succeeded": 0, "dead_lettered": 0, "failed": 0, "rejected": 0, "duplicate": 0,
    }
    # The sweep that did work is in the jobs' log; the empty ones are not.
    runs = ops.db.execute(
        "select id, job_name, status, result from public.job_runs where job_name = 'webhook_retry_sweeper'"
    ).fetchall()
    assert runs == [(run_id, "webhook_retry_sweeper", "succeeded", summary)]


def test_retry_backoff_doubles_after_each_failed_attempt(
    deliver, rpc, sign: Sign, ops: Ops, db: psycopg.Connection
) -> None:
    result, _ = _failed_delivery(deliver, sign, ops)
    delays = []
    for _ in range(4):
        ops.make_due()
        before: datetime = scalar(db, "select now()")
        rpc("retry_failed_webhooks", {})
        next_at = ops.webhook(result["webhook_id"])["next_attempt_at"]
        delays.append(round((next_at - before).total_seconds() / 60))
    assert delays == [2, 4, 8, 16]
    assert ops.webhook(result["webhook_id"])["attempts"] == 5


def test_exhausted_retries_end_in_dead_letter_with_one_alert(deliver, rpc, sign: Sign, ops: Ops, factories) -> None:
    result, _ = _failed_delivery(deliver, sign, ops)
    outcomes = []
    for _ in range(5):
        ops.make_due()
        outcomes.append(rpc("retry_failed_webhooks", {}))

    assert [o["dead_lettered"] for o in outcomes] == [0, 0, 0, 0, 1]
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("dead_letter", 6, None)
    assert row["last_error"] == "P0001: sms store is down"
    ops.make_due()
    assert rpc("retry_failed_webhooks", {})["retried"] == 0  # the sweeper leaves dead letters alone

    admin = factories.platform_admin()
    assert rpc("replay_webhook", {"webhook_id": result["webhook_id"], "reason": "still down?"}, as_=admin.jwt)[
        "status"
    ] == "dead_letter"
    alerts = ops.alerts("webhook_failure")
    assert len(alerts) == 1
    details = alerts[0]["details"]
    assert (alerts[0]["severity"], details["provider"], details["error"], details["count"], details["webhook_ids"]) == (
        "critical", "twilio", "P0001: sms store is down", 1, [result["webhook_id"]]
    )
    assert ops.count("sms_events") == 0


def test_a_row_claimed_by_one_sweeper_is_skipped_by_another(
    deliver, rpc, sign: Sign, ops: Ops, connect: Callable[..., psycopg.Connection]
) -> None:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events")
    ids = [
        deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))["webhook_id"]
        for _ in range(3)
    ]
    ops.heal("sms_events")
    ops.make_due()

    holder = connect(autocommit=False)
    holder.execute("select id from public.webhook_queue where id = %s for update", (ids[0],))  # sweeper A's claim
    assert rpc("retry_failed_webhooks", {})["retried"] == 2
    assert ops.webhook(ids[0])["status"] == "failed"
    holder.rollback()

    assert rpc("retry_failed_webhooks", {})["retried"] == 1
    assert ops.count("sms_events") == 3


def test_a_sweep_logging_its_run_does_not_make_another_sweeper_wait(
    deliver, sign: Sign, ops: Ops, connect: Callable[..., psycopg.Connection]
) -> None:
    # Two workspaces, so the two retries share no row lock of their own (metering
    # a workspace's first usage of a period locks that workspace).
    agents = [ops.agent(), ops.agent()]
    ops.fail_inserts_into("sms_events")
    for agent in agents:
        deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    ops.heal("sms_events")
    ops.make_due()

    first = connect(autocommit=False)
    # Sweeper A retries one row and logs its run, and its transaction stays open.
    assert scalar(first, "select public.retry_failed_webhooks(1)")["retried"] == 1
    second = connect()
    second.execute("set statement_timeout = '10s'")  # a wait on A would end in 57014, not hang
    summary = scalar(second, "select public.retry_failed_webhooks(10)")
    first.commit()

    assert (summary["retried"], summary["succeeded"]) == (1, 1)
    assert ops.count("job_runs", "job_name = 'webhook_retry_sweeper'") == 2


def test_two_sweepers_running_together_never_double_process(deliver, concurrently, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events")
    ids = [
        deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))["webhook_id"]
        for _ in range(24)
    ]
    ops.heal("sms_events")
    # Slow each processing step down so the two sweeper transactions overlap.
    ops.db.execute(
        """
        create function public.test_slow_sms() returns trigger language plpgsql as $$
        begin perform pg_sleep(0.04); return new; end $$;
        create trigger test_slow_sms before insert on public.sms_events
        for each row execute function public.test_slow_sms();
        """
    )
    ops.make_due()

    outcomes = concurrently([("retry_failed_webhooks", {"max_count": 24})] * 2)

    summaries = [data for _, data in outcomes]
    assert sum(s["retried"] for s in summaries) == 24
    assert all(s["retried"] > 0 for s in summaries), summaries  # both really worked at once
    assert sum(s["succeeded"] for s in summaries) == 24
    assert ops.count("webhook_queue", "id = any(%s) and status = 'processed' and attempts = 2", ids) == 24
    assert ops.count("sms_events") == 24
    assert ops.usage(agent.workspace_id, "sms") == 24


@pytest.mark.opsdb_needs("pg_cron")
def test_the_sweeper_runs_every_minute_from_pg_cron(db: psycopg.Connection) -> None:
    job = db.execute("select schedule, command from cron.job where jobname = 'webhook-retry-sweeper'").fetchone()
    assert job is not None
    assert job[0] == "* * * * *" and "public.retry_failed_webhooks(" in job[1]


def test_the_sweeper_works_in_a_jwt_less_session_like_pg_cron(
    deliver, sign: Sign, ops: Ops, db: psycopg.Connection
) -> None:
    result, agent = _failed_delivery(deliver, sign, ops)
    ops.heal("sms_events")
    ops.make_due()
    summary = scalar(db, "select public.retry_failed_webhooks()")
    assert summary["succeeded"] == 1
    assert ops.usage(agent.workspace_id, "sms") == 1


@pytest.mark.parametrize("who", ["anon", "member"])
def test_only_the_backend_may_run_the_sweeper(rpc, factories, who: str) -> None:
    caller = "anon" if who == "anon" else factories.member(factories.workspace()).jwt
    with pytest.raises(RpcError) as err:
        rpc("retry_failed_webhooks", {}, as_=caller)
    assert err.value.sqlstate == "42501"


def test_sweeper_refuses_a_bad_max_count(rpc) -> None:
    with pytest.raises(RpcError) as err:
        rpc("retry_failed_webhooks", {"max_count": 0})
    assert (err.value.sqlstate, err.value.message) == ("22023", "invalid_max_count")


def test_pg_cron_runs_the_sweeper_command_and_it_processes_due_rows(cron_probes: CronProbes) -> None:
    # The scheduled sweeper's command, run by pg_cron itself (no JWT, as the job's owner)
    # in opsdb_cron, found a due failed delivery there, scheduled with it at the start of
    # the session (tests/cron_probes.py).
    with psycopg.connect(cron_probes.url, autocommit=True) as conn:

        def status() -> str:
            found = conn.execute(
                "select status from public.webhook_queue where id = %s", (cron_probes.sweeper_row,)
            ).fetchone()
            return found[0] if found else "missing"

        cron_probes.wait_until(
            conn, lambda: status() != "failed" and bool(cron_probes.runs(conn, "webhook-retry-sweeper-probe"))
        )
        runs = cron_probes.runs(conn, "webhook-retry-sweeper-probe")
        seen = conn.execute(
            "select seen_count from public.unknown_phone where phone_number = %s", (cron_probes.unknown_number,)
        ).fetchone()
        final = status()
    assert final == "unknown_phone"
    assert ("succeeded",) in runs
    assert seen == (1,)


def test_processing_cancelled_by_statement_timeout_keeps_the_raw_row_failed(
    rpc, sign: Sign, ops: Ops, connect: Callable[..., psycopg.Connection]
) -> None:
    # PostgREST's API roles run under a statement_timeout (Supabase: 8 s). A processing
    # step in the call (process_now) stuck behind a lock is cancelled (57014), and the
    # raw row must survive it. (The drain's case: tests/webhooks/test_drain.py.)
    agent = ops.agent()
    holder = connect(autocommit=False)
    holder.execute("lock table public.sms_events in share mode")  # blocks every insert into it
    impatient = connect(options="-c statement_timeout=1500")
    try:
        args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
        result = call(impatient, "ingest_webhook", {**args, "process_now": True}).data
    finally:
        holder.rollback()

    assert result["status"] == "failed" and result["error"].startswith("57014: ")
    row = ops.webhook(result["webhook_id"])
    assert (row["status"], row["attempts"], row["signature_valid"]) == ("failed", 1, True)
    assert ops.count("sms_events") == 0

    ops.make_due()
    assert rpc("retry_failed_webhooks", {})["succeeded"] == 1
    assert ops.webhook(result["webhook_id"])["status"] == "processed"
    assert ops.count("sms_events") == 1
