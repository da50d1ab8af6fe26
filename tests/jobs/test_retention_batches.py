"""The daily retention job commits between batches (private.run_retention_in_batches,
which pg_cron CALLs): each batch is its own short transaction, starts after the
last key of the one before, never waits for a row lock, and the run is logged in
job_runs like public.run_retention_cleanup. How fast it goes (rows per second,
longest transaction, API latency meanwhile) is measured by `make bench-volume`.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from harness.testing import Connect

from harness.rows import scalar

PROCEDURE = "call private.run_retention_in_batches()"


def _deliveries(db: psycopg.Connection, count: int, status: str, age_days: int) -> None:
    db.execute(
        """
        insert into public.webhook_queue (provider, idempotency_key, status, payload, received_at)
        select 'twilio', 'sms:SM' || md5(random()::text) || g, %s, %s,
            now() - make_interval(days => %s) - g * interval '1 second'
        from generate_series(1, %s) as g
        """,
        (status, Jsonb({"MessageSid": "SM0"}), age_days, count),
    )


def _count(db: psycopg.Connection, where: str) -> int:
    row = db.execute(f"select count(*) from public.webhook_queue where {where}").fetchone()
    assert row is not None
    return int(row[0])


def _last_run(db: psycopg.Connection) -> dict[str, Any]:
    row = db.execute(
        "select id, status, result, errors, finished_at is not null from public.job_runs"
        " where job_name = 'retention_cleanup' order by id desc limit 1"
    ).fetchone()
    assert row is not None
    return {"id": row[0], "status": row[1], "result": row[2], "errors": row[3], "finished": row[4]}


def _record_batches(db: psycopg.Connection) -> None:
    """Log, per deleting statement on webhook_queue, its transaction and the key range it deleted."""
    db.execute(
        """
        create table public.retention_probe (xid xid8, rows bigint, first_key text, last_key text);
        create function public.retention_probe() returns trigger language plpgsql as $$
        begin
            insert into public.retention_probe
            select pg_current_xact_id(), count(*),
                min(lpad(extract(epoch from g.received_at)::text, 20, '0') || lpad(g.id::text, 20, '0')),
                max(lpad(extract(epoch from g.received_at)::text, 20, '0') || lpad(g.id::text, 20, '0'))
            from gone as g;
            return null;
        end $$;
        create trigger retention_probe after delete on public.webhook_queue
        referencing old table as gone for each statement execute function public.retention_probe();
        """
    )


def test_the_procedure_deletes_what_expired_and_logs_the_run(db: psycopg.Connection, connect: Connect) -> None:
    _deliveries(db, 30, "processed", 31)
    _deliveries(db, 5, "duplicate", 40)
    _deliveries(db, 4, "dead_letter", 91)
    _deliveries(db, 6, "processed", 29)
    _deliveries(db, 3, "failed", 400)
    _deliveries(db, 2, "dead_letter", 60)

    connect().execute(PROCEDURE)

    assert _count(db, "true") == 6 + 3 + 2
    assert _count(db, "status = 'failed'") == 3 and _count(db, "status = 'dead_letter'") == 2
    run = _last_run(db)
    assert run["status"] == "succeeded" and run["finished"] and run["errors"] == []
    assert run["result"]["deleted"]["webhook_queue"] == 39
    assert run["result"]["more"] == []


def test_each_batch_is_its_own_transaction_and_starts_after_the_last(db: psycopg.Connection, connect: Connect) -> None:
    _deliveries(db, 7000, "processed", 35)
    _deliveries(db, 10, "processed", 5)
    _record_batches(db)

    # Batches sized for 1 ms: the procedure shrinks them to its floor of 500 rows.
    connect().execute("call private.run_retention_in_batches(batch_seconds => 0.001)")

    batches = db.execute("select xid, rows, first_key, last_key from public.retention_probe where rows > 0 order by first_key").fetchall()
    assert sum(b[1] for b in batches) == 7000
    assert len({b[0] for b in batches}) == len(batches) >= 8, "one transaction per batch"
    assert all(b[1] <= 2000 for b in batches)
    # Key ranges follow each other without overlap: no batch re-reads what an earlier one deleted.
    assert all(earlier[3] < later[2] for earlier, later in zip(batches, batches[1:]))
    assert _count(db, "true") == 10
    assert _last_run(db)["result"]["deleted"]["webhook_queue"] == 7000


def test_a_locked_row_is_left_for_the_next_run_without_waiting(db: psycopg.Connection, connect: Connect) -> None:
    _deliveries(db, 50, "processed", 40)
    db.execute(
        "insert into public.unknown_phone (provider, channel_type, phone_number, last_seen_at)"
        " values ('twilio', 'sms', '+15550001111', now() - interval '100 days')"
    )
    holder = connect(autocommit=False)
    locked = holder.execute(
        "select id from public.webhook_queue order by received_at limit 1 for update"
    ).fetchone()
    assert locked is not None
    try:
        connect().execute(PROCEDURE)
        run = _last_run(db)
    finally:
        holder.rollback()

    assert run["status"] == "succeeded" and run["errors"] == []
    assert run["result"]["more"] == ["webhook_deliveries"]
    assert run["result"]["deleted"]["unknown_phone"] == 1
    assert _count(db, f"id = {locked[0]}") == 1
    # Nothing to wait for any more: the next run finishes the job.
    connect().execute(PROCEDURE)
    assert _count(db, "true") == 0
    assert _last_run(db)["result"]["more"] == []


def test_a_failing_step_keeps_its_committed_batches_and_the_others_run(
    db: psycopg.Connection, connect: Connect
) -> None:
    _deliveries(db, 20, "processed", 40)
    db.execute(
        "insert into public.unknown_phone (provider, channel_type, phone_number, last_seen_at)"
        " values ('twilio', 'sms', '+15550002222', now() - interval '100 days')"
    )
    db.execute(
        "create function public.refuse_delete() returns trigger language plpgsql as"
        " $$ begin raise exception 'unknown_phone is locked for an investigation'; end $$;"
        " create trigger refuse_delete before delete on public.unknown_phone"
        " for each statement execute function public.refuse_delete()"
    )

    connect().execute(PROCEDURE)

    run = _last_run(db)
    assert run["status"] == "partial"
    assert run["errors"] == [
        {"step": "unknown_phone", "sqlstate": "P0001", "message": "unknown_phone is locked for an investigation"}
    ]
    assert run["result"]["deleted"]["webhook_queue"] == 20 and run["result"]["deleted"]["unknown_phone"] == 0
    alerts = db.execute("select count(*) from public.alerts where dedupe_key = 'job_failure:retention_cleanup'")
    assert alerts.fetchone() == (1,)


def test_a_backlog_beyond_the_time_budget_is_listed_and_alerted(db: psycopg.Connection, connect: Connect) -> None:
    _deliveries(db, 3000, "processed", 40)

    connect().execute("call private.run_retention_in_batches(max_seconds => 0)")

    run = _last_run(db)
    assert run["status"] == "succeeded"
    assert run["result"]["deleted"]["webhook_queue"] == 2000  # the first batch, then the budget is spent
    assert "webhook_deliveries" in run["result"]["more"]
    alert = db.execute("select details ->> 'job_run_id' from public.alerts where type = 'retention_backlog'")
    assert alert.fetchall() == [(str(run["id"]),)]


def test_the_procedure_and_the_function_never_run_at_once(db: psycopg.Connection, connect: Connect) -> None:
    _deliveries(db, 10, "processed", 40)
    first = connect(autocommit=False)
    first.execute("select public.run_retention_cleanup()")  # holds the job's lock until it commits
    second = connect()
    pid = scalar(second, "select pg_backend_pid()")
    done = threading.Event()

    def run() -> None:
        second.execute(PROCEDURE)
        done.set()

    runner = threading.Thread(target=run)
    runner.start()
    waiting = False
    for _ in range(200):
        waiting = scalar(
            db,
            "select exists (select from pg_locks where pid = %s and locktype = 'advisory' and not granted)", (pid,)
        )
        if waiting:
            break
        time.sleep(0.05)
    assert waiting and not done.is_set(), "the procedure waits for the running function"
    first.commit()
    runner.join(timeout=60)
    assert done.is_set()
    assert _last_run(db)["result"]["deleted"]["webhook_queue"] == 0  # the function had deleted them
    # The procedure let go of its session lock: the function runs again at once.
    third = connect()
    third.execute("set lock_timeout = '2s'")
    assert third.execute("select public.run_retention_cleanup() ->> 'status'").fetchone() == ("succeeded",)


def test_pg_cron_calls_the_procedure(db: psycopg.Connection, connect: Connect) -> None:
    _deliveries(db, 3, "processed", 40)
    command = db.execute("select command from cron.job where jobname = 'retention-cleanup'").fetchone()
    assert command == (PROCEDURE,)

    connect().execute(command[0])  # as pg_cron sends it: one top-level statement

    assert _count(db, "true") == 0


def test_the_procedure_cannot_run_inside_a_transaction_block(connect: Connect) -> None:
    conn = connect(autocommit=False)
    try:
        conn.execute(PROCEDURE)
        raised = False
    except psycopg.errors.InvalidTransactionTermination:
        raised = True
    finally:
        conn.rollback()
    assert raised


def test_a_redelivery_after_the_turn_of_the_month_is_still_a_duplicate(db: psycopg.Connection) -> None:
    # Retention deletes rows; it never splits the table: the dedupe index sees every kept delivery,
    # whatever month it arrived in. A verified delivery of the 31st holds its key on the 1st.
    key = "sms:SM" + uuid.uuid4().hex + ":delivered"
    db.execute(
        "insert into public.webhook_queue (provider, idempotency_key, status, payload, received_at, signature_valid)"
        " values ('twilio', %s, 'processed', '{}', date_trunc('month', now()) - interval '1 minute', true)",
        (key,),
    )
    try:
        db.execute(
            "insert into public.webhook_queue (provider, idempotency_key, status, payload, received_at, signature_valid)"
            " values ('twilio', %s, 'processed', '{}', date_trunc('month', now()) + interval '1 minute', true)",
            (key,),
        )
        duplicate_refused = False
    except psycopg.errors.UniqueViolation:
        duplicate_refused = True
    assert duplicate_refused
