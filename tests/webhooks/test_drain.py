"""Queued deliveries and the drain.

ingest_webhook acknowledges a new verified delivery as ``queued`` once it is
stored and holds its idempotency key; ``drain_webhooks`` processes queued rows in
chunks (claimed FOR UPDATE SKIP LOCKED), each row once, a bad row alone; a drain
that is cancelled or killed leaves its whole batch queued; ``process_now``
answers the outcome in the call.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from twilio.request_validator import RequestValidator

from harness import project
from harness.cluster import LocalCluster
from harness.provision import provision
from harness.race import race_each
from harness.rows import scalar
from harness.rpc import RpcError
from harness.testing import Rpc
from tests.support.webhooks import (
    TWILIO_SMS_URL,
    TWILIO_VOICE_URL,
    Ops,
    Sign,
    e164,
    standard_event,
    twilio_call_status,
    twilio_inbound_sms,
    whatsapp_message,
)


def _ack(rpc: Rpc, sign: Sign, number: str) -> int:
    """A new inbound SMS to ``number`` acknowledged; its webhook id."""
    ack = rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(number, e164())))
    assert ack["status"] == "queued"
    return int(ack["webhook_id"])


def _process_calls(db: psycopg.Connection) -> int:
    """Calls of private.process_webhook this session has counted and not yet reported."""
    row = db.execute(
        "select coalesce(sum(pg_stat_get_xact_function_calls(p.oid)), 0) from pg_proc as p"
        " where p.proname = 'process_webhook' and p.pronamespace = 'private'::regnamespace"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _drain_counting(db: psycopg.Connection, max_count: int = 1000) -> tuple[dict, int]:
    """One drain on db (a JWT-less backend session, as pg_cron), and how often a row was processed."""
    with db.transaction():
        db.execute("set local track_functions = 'all'")
        before = _process_calls(db)
        row = db.execute("select public.drain_webhooks(%s)", (max_count,)).fetchone()
        assert row is not None
        calls = _process_calls(db) - before
    return row[0], calls


def test_a_new_delivery_is_acknowledged_queued_verified_and_holding_its_key(rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))

    ack = rpc("ingest_webhook", args)
    again = rpc("ingest_webhook", args)

    assert (ack["status"], ack["duplicate"], ack["event_type"]) == ("queued", False, "twilio.sms")
    row = ops.webhook(ack["webhook_id"])
    assert (row["status"], row["signature_valid"], row["attempts"], row["processed_at"]) == ("queued", True, 0, None)
    assert (again["status"], again["original_webhook_id"], again["original_status"]) == (
        "duplicate",
        ack["webhook_id"],
        "queued",
    )
    assert ops.count("sms_events") == 0 and ops.usage(agent.workspace_id, "sms") == 0  # not processed yet

    summary = rpc("drain_webhooks", {})

    assert (summary["drained"], summary["processed"]) == (1, 1)
    assert ops.webhook(ack["webhook_id"])["status"] == "processed"
    assert ops.webhook(again["webhook_id"])["status"] == "duplicate"
    assert ops.count("sms_events") == 1 and ops.usage(agent.workspace_id, "sms") == 1
    assert rpc("drain_webhooks", {})["drained"] == 0


def test_a_forged_delivery_is_rejected_with_an_alert_and_never_queued(rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()
    forged = {**sign.twilio(twilio_inbound_sms(agent.phone_number, e164())), "headers": {"X-Twilio-Signature": "eA=="}}

    result = rpc("ingest_webhook", forged)

    assert (result["status"], result["error"]) == ("rejected", "signature_mismatch")
    assert ops.webhook(result["webhook_id"])["signature_valid"] is False
    assert len(ops.alerts("signature_failure")) == 1
    assert rpc("drain_webhooks", {})["drained"] == 0
    assert ops.count("sms_events") == 0


def test_the_drain_processes_a_batch_of_every_kind_each_row_once_oldest_first(
    rpc, sign: Sign, ops: Ops, db: psycopg.Connection, factories
) -> None:
    # A plan whose limits the batch stays under: every event is metered.
    ws = factories.workspace(plan_key="business")
    agent = ops.agent(ws, channels={"sms": None, "voice": None, "whatsapp": "106540352242922"})
    quiet = ops.agent()
    db.execute("update public.agent_channels set is_active = false where agent_id = %s", (quiet.id,))
    lost = e164()
    deliveries = (
        [sign.twilio(twilio_inbound_sms(agent.phone_number, e164(), NumSegments="2")) for _ in range(180)]
        + [
            sign.twilio(twilio_call_status(agent.phone_number, e164(), duration=61), url=TWILIO_VOICE_URL)
            for _ in range(20)
        ]
        + [sign.meta(whatsapp_message("106540352242922")) for _ in range(10)]
        + [sign.standard(standard_event()) for _ in range(5)]
        + [sign.twilio(twilio_inbound_sms(lost, e164())) for _ in range(15)]
        + [sign.twilio(twilio_inbound_sms(quiet.phone_number, e164())) for _ in range(5)]
    )
    ids = [rpc("ingest_webhook", args)["webhook_id"] for args in deliveries]
    assert ops.count("webhook_queue", "status = 'queued'") == 235

    first, first_calls = _drain_counting(db, max_count=150)
    rest, rest_calls = _drain_counting(db)

    assert first == {
        "drained": 150, "processed": 150, "unknown_phone": 0, "failed": 0, "dead_lettered": 0,
        "job_run_id": first["job_run_id"],
    }  # fmt: skip
    assert (rest["drained"], rest["processed"], rest["unknown_phone"], rest["failed"]) == (85, 70, 15, 0)
    assert (first_calls, rest_calls) == (150, 85)  # every row processed once, none again
    statuses = db.execute(
        "select status, count(*), min(attempts), max(attempts) from public.webhook_queue where id = any(%s) group by 1",
        (ids,),
    ).fetchall()
    assert sorted(statuses) == [("processed", 220, 1, 1), ("unknown_phone", 15, 1, 1)]
    # Oldest first: the first batch took the first 150 deliveries.
    assert ops.count("webhook_queue", "id = any(%s) and processed_at < (select min(processed_at) from"
                     " public.webhook_queue where id = any(%s))", ids[:150], ids[150:]) == 150  # fmt: skip
    assert ops.count("sms_events", "workspace_id = %s", agent.workspace_id) == 180
    assert ops.usage(agent.workspace_id, "sms") == 360
    assert ops.count("call_events") == 20 and ops.usage(agent.workspace_id, "call_minutes") == 40
    assert ops.count("messages", "workspace_id = %s", agent.workspace_id) == 10
    assert ops.scalar("select seen_count from public.unknown_phone where phone_number = %s", lost) == 15
    assert ops.count("webhook_queue", "skip_reason = 'channel_disabled'") == 5
    assert ops.count("sms_events", "workspace_id = %s", quiet.workspace_id) == 0
    runs = db.execute("select result ->> 'drained' from public.job_runs where job_name = 'webhook_drain' order by id")
    assert [r[0] for r in runs.fetchall()] == ["150", "85"]


def test_an_error_in_one_row_fails_that_row_alone_and_the_others_are_processed_once(
    rpc, sign: Sign, ops: Ops, db: psycopg.Connection, factories
) -> None:
    agent = ops.agent(factories.workspace(plan_key="business"))
    params = [twilio_inbound_sms(agent.phone_number, e164()) for _ in range(150)]
    params[40] = twilio_inbound_sms(agent.phone_number, e164(), body="poison")
    ids = [rpc("ingest_webhook", sign.twilio(p))["webhook_id"] for p in params]
    # A downstream step that fails for this one delivery (a transient error: retried with backoff).
    db.execute(
        """
        create function public.test_poison() returns trigger language plpgsql as $$
        begin
            if new.body = 'poison' then raise exception 'sms store refused it'; end if;
            return new;
        end $$;
        create trigger test_poison before insert on public.sms_events
        for each row execute function public.test_poison();
        """
    )

    summary, calls = _drain_counting(db)

    assert (summary["drained"], summary["processed"], summary["failed"]) == (150, 149, 1)
    # The chunk holding the bad row was undone and its 100 rows done again one by one
    # (a call that raised is not counted): no more than one chunk is ever done twice.
    assert calls == 40 + 99 + 50
    bad = ops.webhook(ids[40])
    assert (bad["status"], bad["attempts"]) == ("failed", 1)
    assert bad["last_error"] == "P0001: sms store refused it" and bad["next_attempt_at"] is not None
    assert ops.count("webhook_queue", "id = any(%s) and status = 'processed' and attempts = 1", ids) == 149
    assert ops.count("sms_events") == 149
    assert ops.usage(agent.workspace_id, "sms") == 149
    assert ops.count("usage_events", "workspace_id = %s", agent.workspace_id) == 149


def test_a_permanent_error_in_the_drain_dead_letters_at_once_with_one_alert_and_the_signals_count_it(
    rpc, sign: Sign, ops: Ops, db: psycopg.Connection, factories
) -> None:
    def twilio_signals() -> dict[str, tuple[int, int, int]]:
        rows = db.execute(
            "select signal, last_5m, last_1h, last_24h from public.monitoring_signals()"
            " where scope = 'twilio' and signal in ('webhook_failures', 'webhook_retry_backlog',"
            " 'webhook_dead_letter_backlog')"
        ).fetchall()
        return {signal: (a, b, c) for signal, a, b, c in rows}

    quiet = {"webhook_failures": (0, 0, 0), "webhook_retry_backlog": (0, 0, 0), "webhook_dead_letter_backlog": (0, 0, 0)}
    agent = ops.agent(factories.workspace(plan_key="business"))
    params = [twilio_inbound_sms(agent.phone_number, e164()) for _ in range(5)]
    for i in (1, 3):
        params[i] = twilio_inbound_sms(agent.phone_number, e164(), body="poison")
    ids = [rpc("ingest_webhook", sign.twilio(p))["webhook_id"] for p in params]
    # Queued deliveries are waiting, not failing.
    assert twilio_signals() == quiet
    # A payload the downstream step can never take (class 22: data exception).
    db.execute(
        """
        create function public.test_poison() returns trigger language plpgsql as $$
        begin
            if new.body = 'poison' then
                raise exception using errcode = '22023', message = 'sms body refused';
            end if;
            return new;
        end $$;
        create trigger test_poison before insert on public.sms_events
        for each row execute function public.test_poison();
        """
    )

    summary, _ = _drain_counting(db)

    assert (summary["processed"], summary["failed"], summary["dead_lettered"]) == (3, 0, 2)
    assert [ops.webhook(ids[i])["status"] for i in (1, 3)] == ["dead_letter", "dead_letter"]
    [alert] = ops.alerts("webhook_failure")
    assert alert["resolved_at"] is None and alert["details"]["count"] == 2
    assert sorted(alert["details"]["webhook_ids"]) == sorted([ids[1], ids[3]])
    assert twilio_signals() == {**quiet, "webhook_failures": (2, 2, 2), "webhook_dead_letter_backlog": (2, 2, 2)}


def test_two_drains_racing_process_each_row_once(
    rpc, sign: Sign, ops: Ops, db: psycopg.Connection, connect: Callable[..., psycopg.Connection]
) -> None:
    agents = [ops.agent() for _ in range(4)]
    ids = [
        rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agents[n % 4].phone_number, e164())))["webhook_id"]
        for n in range(160)
    ]
    # Slow each processing step down so the two drains' calls overlap.
    db.execute(
        """
        create function public.test_slow_sms() returns trigger language plpgsql as $$
        begin perform pg_sleep(0.005); return new; end $$;
        create trigger test_slow_sms before insert on public.sms_events
        for each row execute function public.test_slow_sms();
        """
    )
    conns = [connect(), connect()]

    def drain(conn: psycopg.Connection) -> dict:
        row = conn.execute("select public.drain_webhooks(100)").fetchone()
        assert row is not None
        return row[0]

    results = race_each(conns, drain)

    assert sorted(r["drained"] for r in results) == [60, 100]  # disjoint rows: one batch each
    assert sum(r["processed"] for r in results) == 160
    assert ops.count("webhook_queue", "id = any(%s) and status = 'processed' and attempts = 1", ids) == 160
    assert ops.count("sms_events") == 160
    assert sum(ops.usage(a.workspace_id, "sms") for a in agents) == 160
    assert ops.count("usage_events") == 160


def test_a_row_being_replayed_is_skipped_by_the_drain_and_processed_once(
    rpc, sign: Sign, ops: Ops, connect: Callable[..., psycopg.Connection]
) -> None:
    # Three workspaces: the replay's open transaction holds its workspace's period totals.
    agents = [ops.agent() for _ in range(3)]
    ids = [_ack(rpc, sign, a.phone_number) for a in agents]
    replaying = connect(autocommit=False)
    replayed = scalar(
        replaying,
        "select public.replay_webhook(%s, 'process it now')", (ids[0],)
    )

    drained = rpc("drain_webhooks", {})  # the replay's transaction still holds its row
    replaying.commit()

    assert (replayed["status"], replayed["previous_status"]) == ("processed", "queued")
    assert drained["drained"] == 2
    assert rpc("drain_webhooks", {})["drained"] == 0
    assert ops.count("webhook_queue", "id = any(%s) and status = 'processed' and attempts = 1", ids) == 3
    assert ops.count("sms_events") == 3 and [ops.usage(a.workspace_id, "sms") for a in agents] == [1, 1, 1]
    bulk = rpc("replay_webhooks", {"reason": "catch up", "status": "queued"})
    assert bulk["replayed"] == 0


def test_bulk_replay_processes_queued_rows_without_waiting_for_the_drain(
    rpc, sign: Sign, ops: Ops, factories
) -> None:
    agent = ops.agent()
    ids = [_ack(rpc, sign, agent.phone_number) for _ in range(4)]

    admin = factories.platform_admin()
    result = rpc("replay_webhooks", {"reason": "drain job down", "status": "queued"}, as_=admin.jwt)

    assert (result["replayed"], result["succeeded"], result["outcomes"]) == (4, 4, {"processed": 4})
    assert sorted(result["webhook_ids"]) == sorted(ids)
    assert rpc("drain_webhooks", {})["drained"] == 0
    assert ops.count("sms_events") == 4


def test_a_drain_cancelled_by_statement_timeout_leaves_its_rows_queued(
    rpc, sign: Sign, ops: Ops, connect: Callable[..., psycopg.Connection]
) -> None:
    agent = ops.agent()
    ids = [_ack(rpc, sign, agent.phone_number) for _ in range(5)]
    holder = connect(autocommit=False)
    holder.execute("lock table public.sms_events in share mode")  # blocks every insert into it
    impatient = connect(options="-c statement_timeout=1500")
    try:
        with pytest.raises(psycopg.errors.QueryCanceled):
            impatient.execute("select public.drain_webhooks()")
    finally:
        holder.rollback()

    assert ops.count("webhook_queue", "id = any(%s) and status = 'queued' and attempts = 0", ids) == 5
    assert ops.count("sms_events") == 0 and ops.count("usage_events") == 0
    assert rpc("drain_webhooks", {})["processed"] == 5


def test_process_now_answers_the_outcome_in_the_call(rpc, sign: Sign, ops: Ops) -> None:
    agent = ops.agent()

    def now(args: dict) -> dict:
        return rpc("ingest_webhook", {**args, "process_now": True})

    processed = now(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    unknown = now(sign.twilio(twilio_inbound_sms(e164(), e164())))
    ops.fail_inserts_into("sms_events", "sms store is down")
    failed = now(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    args = sign.twilio(twilio_inbound_sms(agent.phone_number, e164()))
    queued = rpc("ingest_webhook", {**args, "process_now": False})

    assert processed["status"] == "processed" and ops.webhook(processed["webhook_id"])["attempts"] == 1
    assert unknown["status"] == "unknown_phone"
    assert (failed["status"], failed["error"]) == ("failed", "P0001: sms store is down")
    assert ops.webhook(failed["webhook_id"])["status"] == "failed"  # the raw row is kept, for the sweeper
    assert queued["status"] == "queued"
    assert ops.count("sms_events") == 1


@pytest.mark.parametrize("who", ["anon", "member"])
def test_only_the_backend_may_drain(rpc, factories, who: str) -> None:
    caller = "anon" if who == "anon" else factories.member(factories.workspace()).jwt
    with pytest.raises(RpcError) as err:
        rpc("drain_webhooks", {}, as_=caller)
    assert err.value.sqlstate == "42501"


def test_drain_refuses_a_bad_max_count(rpc, db: psycopg.Connection) -> None:
    for bad in (0, 10001):
        with pytest.raises(RpcError) as err:
            rpc("drain_webhooks", {"max_count": bad})
        assert (err.value.sqlstate, err.value.message) == ("22023", "invalid_max_count")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid_max_count"):
        db.execute("call private.drain_webhooks_continuously(seconds => 1, max_count => 0)")


def test_the_continuous_drain_commits_each_batch_and_processes_what_arrives(
    rpc, sign: Sign, ops: Ops, db_url: str, connect: Callable[..., psycopg.Connection]
) -> None:
    agent = ops.agent()
    early = rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    drainer = connect()
    pid = scalar(drainer, "select pg_backend_pid()")
    thread = threading.Thread(
        target=drainer.execute, args=("call private.drain_webhooks_continuously(seconds => 6, idle_seconds => 0.05)",)
    )
    thread.start()
    try:
        # Poll until the early delivery is processed: its batch committed while the call goes on.
        deadline = time.monotonic() + 30
        while ops.webhook(early["webhook_id"])["status"] == "queued" and time.monotonic() < deadline:
            time.sleep(0.05)
        running = ops.scalar("select state from pg_stat_activity where pid = %s", pid)
        late = rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    finally:
        thread.join(timeout=60)

    assert ops.webhook(early["webhook_id"])["status"] == "processed"
    assert running == "active"  # seen committed before the call ended
    assert ops.webhook(late["webhook_id"])["status"] == "processed"
    run = ops.db.execute(
        "select status, result from public.job_runs where job_name = 'webhook_drain' and params ? 'continuous'"
    ).fetchall()
    assert len(run) == 1 and run[0][0] == "succeeded"
    assert (run[0][1]["drained"], run[0][1]["processed"]) == (2, 2) and run[0][1]["batches"] == 2


def test_pg_cron_runs_the_drain_every_minute(db: psycopg.Connection) -> None:
    job = db.execute("select schedule, command, active from cron.job where jobname = 'webhook-drain'").fetchone()
    assert job == ("* * * * *", "call private.drain_webhooks_continuously()", True)


def test_the_drain_procedure_is_for_its_owner_only(db: psycopg.Connection) -> None:
    for role in ("anon", "authenticated", "service_role"):
        row = db.execute(
            "select has_function_privilege(%s, 'private.drain_webhooks_continuously(double precision, integer,"
            " double precision)', 'execute')",
            (role,),
        ).fetchone()
        assert row == (False,), role


def _signed_sms(token: str, to: str, body: str) -> tuple[dict, dict]:
    params = twilio_inbound_sms(to, e164(), body=body)
    return params, {"X-Twilio-Signature": RequestValidator(token).compute_signature(TWILIO_SMS_URL, params)}


def test_a_drain_killed_mid_batch_leaves_every_row_queued(tmp_path: Path) -> None:
    # A real crash: SIGKILL of the drain's backend, on a cluster of its own (the
    # postmaster then restarts every session, so the shared test server is spared).
    cluster = LocalCluster(tmp_path / "crash", dbname="crash", fast=True)
    try:
        cluster.start()
        url = cluster.ensure_database("crash")
        provision(url, project.db_dir(), out=lambda _line: None)
        with psycopg.connect(url, autocommit=True) as conn:
            # The cluster runs with synchronous_commit off (fast): a crash may take the
            # last commits of that kind with it. The deliveries must be durable first.
            conn.execute("set synchronous_commit = on")
            # pg_cron's own drain must not take these rows first.
            conn.execute("update cron.job set active = false")
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where query like 'call private.drain_webhooks_continuously%%' and pid <> pg_backend_pid()"
            )
            token = uuid.uuid4().hex
            conn.execute("select vault.create_secret(%s, 'twilio_auth_token')", (token,))
            owner = scalar(
                conn,
                "insert into auth.users (id, email) values (gen_random_uuid(), 'crash@example.test') returning id"
            )
            ws = scalar(
                conn,
                "insert into public.workspaces (name, owner_id, plan_key) values ('crash', %s, 'business') returning id",
                (owner,),
            )
            number = e164()
            agent = scalar(
                conn,
                "insert into public.agents (workspace_id, user_id, agent_id, phone_number, provider, status)"
                " values (%s, %s, 'agent_crash', %s, 'twilio', 'active') returning id",
                (ws, owner, number),
            )
            conn.execute(
                "insert into public.agent_channels (workspace_id, agent_id, channel_type) values (%s, %s, 'sms')",
                (ws, agent),
            )
            for n in range(150):
                params, headers = _signed_sms(token, number, "hold" if n == 120 else f"message {n}")
                ack = scalar(
                    conn,
                    "select public.ingest_webhook('twilio', %s, %s, null, %s)",
                    (psycopg.types.json.Jsonb(params), psycopg.types.json.Jsonb(headers), TWILIO_SMS_URL),
                )
                assert ack["status"] == "queued"
            # The 121st delivery's processing waits on a lock the test holds: the drain
            # has processed its first chunk of 100 (uncommitted) when it stops there.
            conn.execute(
                """
                create function public.test_hold() returns trigger language plpgsql as $$
                begin
                    if new.body = 'hold' then perform pg_advisory_xact_lock_shared(4711); end if;
                    return new;
                end $$;
                create trigger test_hold before insert on public.sms_events
                for each row execute function public.test_hold();
                """
            )
        holder = psycopg.connect(url, autocommit=True)
        holder.execute("select pg_advisory_lock(4711)")
        drainer = psycopg.connect(url, autocommit=True)
        pid = scalar(drainer, "select pg_backend_pid()")
        thread = threading.Thread(target=lambda: _swallow(drainer.execute, "select public.drain_webhooks(1000)"))
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            waiting = holder.execute(
                "select wait_event from pg_stat_activity where pid = %s", (pid,)
            ).fetchone()
            if waiting == ("advisory",):
                break
            time.sleep(0.05)
        assert waiting == ("advisory",)
        with psycopg.connect(url) as peek:  # the first chunk's work is there, uncommitted
            assert peek.execute("select count(*) from public.sms_events").fetchone() == (0,)

        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=60)
        holder.close()
        drainer.close()
        after = _reconnect(url, pid)

        with after:
            counts = after.execute(
                "select count(*) filter (where status = 'queued' and attempts = 0 and processed_at is null), count(*)"
                " from public.webhook_queue"
            ).fetchone()
            assert counts == (150, 150)
            assert after.execute("select count(*) from public.sms_events").fetchone() == (0,)
            assert after.execute("select count(*) from public.usage_events").fetchone() == (0,)
            assert after.execute("select count(*) from public.job_runs").fetchone() == (0,)

            after.execute("drop trigger test_hold on public.sms_events")
            summary = scalar(after, "select public.drain_webhooks(1000)")
            assert (summary["drained"], summary["processed"]) == (150, 150)
            assert after.execute("select count(*) from public.sms_events").fetchone() == (150,)
            assert after.execute("select coalesce(sum(quantity), 0)::int from public.usage_events").fetchone() == (150,)
    finally:
        cluster.destroy()


def _swallow(fn: Callable[..., object], *args: object) -> None:
    """Run fn, expecting the connection to die under it (the SIGKILL)."""
    try:
        fn(*args)
    except psycopg.OperationalError:
        pass


def _reconnect(url: str, killed: int) -> psycopg.Connection:
    """A connection once the postmaster has restarted after the crash.

    The postmaster reaps the killed backend and, in the same step, ends every other
    session and refuses new ones until recovery is done: a connection made before
    the reaping would be ended too, so wait for it first.
    """
    deadline = time.monotonic() + 60
    while Path(f"/proc/{killed}").exists():
        assert time.monotonic() < deadline, f"backend {killed} was never reaped"
        time.sleep(0.05)
    while True:
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=2)
            conn.execute("select 1")
            return conn
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
