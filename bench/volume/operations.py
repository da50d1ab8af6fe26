"""What the volume bench times: one small function per operation.

Add an operation by writing one function and decorating it::

    @operation("billing_current_month", "nightly billing lines, every workspace, this month")
    def billing_current_month(ctx: Context) -> Result:
        return ctx.timed("select private.generate_all_billing_line_items(date_trunc('month', now())::date)")

``same_period=True`` (the default) says the operation works on the same period
at every size (yesterday, this month, the last week, one page), so its 3x/1x
ratio must stay near 1 (the bound is 1.3); ``False`` marks work that
grows with the history on purpose: a first retention run over all of it, or a
tenant's read of all its own rows.
``destructive=True`` runs it after the others (it deletes what they read);
``once=True`` runs it once per size instead of in every round.
An operation that needs a function another part of the project adds returns
``Result.absent(...)`` until that function exists, and is timed from then on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench.volume import load as shape

from harness.rows import scalar

RUNS = 3
# A run of a query faster than this repeats it until this much time has passed (see Context.timed).
FAST_RUN = 0.25


@dataclass
class Result:
    seconds: float | None  # the operation's time (median of its runs), None when absent
    detail: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def absent(why: str) -> Result:
        return Result(None, why)


@dataclass
class Context:
    url: str
    volume: shape.Volume
    runs: int = RUNS
    round: int = 0  # which round of an interleaved measurement this call is (see run.py)
    fast_run: float = FAST_RUN
    # What an operation builds once per database and keeps across rounds (closed with the context).
    kept: dict[str, Any] = field(default_factory=dict)
    _conn: psycopg.Connection | None = None
    _warm: set[str] = field(default_factory=set)

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True)
        return self._conn

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def close(self) -> None:
        for kept in self.kept.values():
            kept.close()
        self.kept.clear()
        if self._conn is not None:
            self._conn.close()

    def exists(self, signature: str) -> bool:
        row = self.conn.execute("select to_regprocedure(%s) is not null", (signature,)).fetchone()
        return bool(row and row[0])

    def timed(
        self, query: str, params: Sequence[Any] = (), *, as_: dict[str, Any] | None = None, runs: int | None = None
    ) -> Result:
        """Median time of ``query`` over ``runs`` runs, after one warm-up run the first time it is seen.

        A query faster than FAST_RUN is repeated within a run for at least FAST_RUN seconds and the run
        counts its median call: one call of a page read is within the noise of a shared machine, and a
        mean would still move with the few calls another process preempted; the median of many does not.
        """
        return self.measure(query, lambda: self._once(query, params, as_), runs=runs)

    def measure(self, key: str, once: Callable[[], tuple[float, Any]], *, runs: int | None = None) -> Result:
        """Median of ``runs`` timings of ``once`` (it returns its seconds and its answer), after one warm-up call
        the first time ``key`` is seen; a call under ``fast_run`` seconds is repeated for that long and counts
        its median call."""
        times: list[float] = []
        answer: Any = None
        if key not in self._warm:
            answer = once()[1]
            self._warm.add(key)
        for _ in range(runs or self.runs):
            elapsed, answer = once()
            if elapsed < self.fast_run:
                calls = [elapsed]
                while sum(calls) < self.fast_run and len(calls) < 500:
                    calls.append(once()[0])
                elapsed = statistics.median(calls)
            times.append(elapsed)
        return Result(statistics.median(times), _short(answer), {"runs": [round(t, 5) for t in times]})

    def _once(self, query: str, params: Sequence[Any], as_: dict[str, Any] | None) -> tuple[float, Any]:
        started = time.perf_counter()
        with self.conn.transaction():
            if as_ is not None:
                _claims(self.conn, as_)
            rows = self.conn.execute(query.encode(), params).fetchall()
        elapsed = time.perf_counter() - started
        return elapsed, rows[0][0] if rows and len(rows) == 1 and len(rows[0]) == 1 else len(rows)


def _short(answer: Any) -> str:
    if isinstance(answer, dict):
        keep = {k: v for k, v in answer.items() if not isinstance(v, (list, dict)) or k == "deleted"}
        return json.dumps(keep, default=str)[:160]
    return str(answer)[:160]


def _claims(conn: psycopg.Connection, claims: dict[str, Any]) -> None:
    conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
        (claims["role"], json.dumps(claims)),
    )


def member(n: int = 1) -> dict[str, Any]:
    return {"role": "authenticated", "sub": f"00000000-0000-4000-a000-{n:012d}"}


def owner(n: int = 1) -> dict[str, Any]:
    return {"role": "authenticated", "sub": f"00000000-0000-4000-9000-{n:012d}"}


SERVICE = {"role": "service_role"}
SUPPORT = {"role": "authenticated", "sub": "00000000-0000-4000-b000-000000000001"}
ADMIN = {"role": "authenticated", "sub": "00000000-0000-4000-b000-000000000002"}


def workspace(n: int = 1) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@dataclass(frozen=True)
class Operation:
    name: str
    description: str
    run: Callable[[Context], Result]
    same_period: bool = True
    destructive: bool = False
    once: bool = False  # can only happen once per database (a first run): not repeated in rounds


OPERATIONS: list[Operation] = []


def operation(
    name: str, description: str, *, same_period: bool = True, destructive: bool = False, once: bool = False
) -> Callable[[Callable[[Context], Result]], Callable[[Context], Result]]:
    def register(fn: Callable[[Context], Result]) -> Callable[[Context], Result]:
        OPERATIONS.append(Operation(name, description, fn, same_period, destructive, once))
        return fn

    return register


def ordered() -> list[Operation]:
    return [o for o in OPERATIONS if not o.destructive] + [o for o in OPERATIONS if o.destructive]


# -- the jobs, dashboards and hot paths -----------------------------------------------------


@operation("billing_previous_month", "nightly billing line items, all workspaces, previous month")
def billing_previous_month(ctx: Context) -> Result:
    return ctx.timed(
        "select private.generate_all_billing_line_items((date_trunc('month', now() at time zone 'UTC')"
        " - interval '1 month')::date)"
    )


@operation("billing_current_month", "nightly billing, current month")
def billing_current_month(ctx: Context) -> Result:
    return ctx.timed(
        "select private.generate_all_billing_line_items(date_trunc('month', now() at time zone 'UTC')::date)"
    )


@operation("weekly_insights", "weekly insights, all workspaces (last complete week)")
def weekly_insights(ctx: Context) -> Result:
    return ctx.timed("select public.generate_weekly_insights()")


@operation("dashboard_day", "dashboard view, all workspaces, one day (yesterday)")
def dashboard_day(ctx: Context) -> Result:
    return ctx.timed(
        "select * from public.dashboard_daily_metrics where day = (now() at time zone 'UTC')::date - 1"
    )


@operation("staff_latest_messages", "staff: latest 50 messages, every workspace, masked (list_messages_masked)")
def staff_latest_messages(ctx: Context) -> Result:
    return ctx.timed("select * from public.list_messages_masked(max_count => 50)", as_=SUPPORT)


@operation("member_count_usage_events", "a member's select count(*) from usage_events (no workspace filter)", same_period=False)
def member_count_usage_events(ctx: Context) -> Result:
    return ctx.timed("select count(*) from public.usage_events", as_=member())


# -- the rollups, lists and reads ----------------------------------------------------------


@operation("reconciliation_day", "reconciliation of yesterday, every workspace and metric")
def reconciliation_day(ctx: Context) -> Result:
    return ctx.timed(
        "select public.run_reconciliation((now() at time zone 'UTC')::date - 1, (now() at time zone 'UTC')::date)"
    )


@operation("dashboard_workspace_month", "dashboard_metrics of one workspace, the last 30 days")
def dashboard_workspace_month(ctx: Context) -> Result:
    return ctx.timed(
        "select * from public.dashboard_metrics(%s, (now() at time zone 'UTC')::date - 30,"
        " (now() at time zone 'UTC')::date - 1)",
        (workspace(),),
        as_=member(),
    )


@operation("service_count_usage_events", "service_role's count of one workspace's usage_events (the yardstick)", same_period=False)
def service_count_usage_events(ctx: Context) -> Result:
    return ctx.timed("select count(*) from public.usage_events where workspace_id = %s", (workspace(),), as_=SERVICE)


@operation("member_latest_usage_events", "a member's 50 latest usage_events (no workspace filter)", same_period=False)
def member_latest_usage_events(ctx: Context) -> Result:
    return ctx.timed("select * from public.usage_events order by id desc limit 50", as_=member())


@operation("service_latest_usage_events", "service_role's 50 latest usage_events of one workspace (the yardstick)", same_period=False)
def service_latest_usage_events(ctx: Context) -> Result:
    return ctx.timed(
        "select * from public.usage_events where workspace_id = %s order by id desc limit 50", (workspace(),), as_=SERVICE
    )


def _middle(ctx: Context, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    row = ctx.conn.execute(query.encode(), params).fetchone()
    assert row is not None, query
    return tuple(row)


@operation("member_messages_deep_page", "a member's page of 50 messages, half way back through the history")
def member_messages_deep_page(ctx: Context) -> Result:
    count = _middle(ctx, "select count(*) from public.messages where workspace_id = %s", (workspace(),))[0]
    at, id_ = _middle(
        ctx,
        "select created_at, id from public.messages where workspace_id = %s order by created_at desc, id desc"
        " offset %s limit 1",
        (workspace(), count // 2),
    )
    return ctx.timed(
        "select * from public.messages where workspace_id = %s and (created_at, id) < (%s, %s)"
        " order by created_at desc, id desc limit 50",
        (workspace(), at, id_),
        as_=member(),
    )


@operation("staff_failed_webhooks_page", "admin: failed deliveries by time, a page half way back")
def staff_failed_webhooks_page(ctx: Context) -> Result:
    count = _middle(ctx, "select count(*) from public.webhook_queue where status = 'failed'")[0]
    at, id_ = _middle(
        ctx,
        "select received_at, id from public.webhook_queue where status = 'failed'"
        " order by received_at desc, id desc offset %s limit 1",
        (count // 2,),
    )
    return ctx.timed(
        "select * from public.webhook_queue where status = 'failed' and (received_at, id) < (%s, %s)"
        " order by received_at desc, id desc limit 50",
        (at, id_),
        as_=ADMIN,
    )


@operation("staff_alerts_page", "support: latest 50 alerts of every workspace (list_alerts)")
def staff_alerts_page(ctx: Context) -> Result:
    return ctx.timed("select * from public.list_alerts(max_count => 50)", as_=SUPPORT)


@operation("admin_audit_page", "platform admin: latest 50 audit rows")
def admin_audit_page(ctx: Context) -> Result:
    return ctx.timed("select * from public.audit_logs order by occurred_at desc, id desc limit 50", as_=ADMIN)


@operation("member_ledger_page", "a member's latest 50 ledger entries of their workspace")
def member_ledger_page(ctx: Context) -> Result:
    return ctx.timed(
        "select * from public.wallet_ledger where workspace_id = %s order by id desc limit 50", (workspace(),), as_=member()
    )


@operation("usage_fold_day", "fold one day of new usage events (55,000 at 1x) into the rollups")
def usage_fold_day(ctx: Context) -> Result:
    per_day = ctx.volume.usage_events // ctx.volume.days
    times: list[float] = []
    for _ in range(ctx.runs):
        ctx.conn.execute(
            f"""
            insert into public.usage_events (workspace_id, metric, quantity, period_start, tier_snapshot_id, source,
                occurred_at)
            select e.workspace_id, e.metric, e.quantity, e.period_start, e.tier_snapshot_id, e.source, now()
            from public.usage_events as e
            where e.id > (select max(id) from public.usage_events) - {per_day}
            """.encode()
        )
        started = time.perf_counter()
        ctx.conn.execute("select private.fold_usage_rollups()")  # the reading
        ctx.conn.execute("select private.fold_usage_rollups()")  # the fold
        times.append(time.perf_counter() - started)
    return Result(statistics.median(times), f"{per_day} events", {"runs": [round(t, 4) for t in times]})


# -- hot paths, at this volume --------------------------------------------------------------

CALLS = 300
TWILIO_TOKEN = "volume-twilio-auth-token-0123456789"
TWILIO_URL = "https://api.example.test/webhooks/twilio/sms"


def _latencies(conn: psycopg.Connection, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[float]:
    conn.execute("set role service_role")
    conn.execute("""select set_config('request.jwt.claims', '{"role":"service_role"}', false)""")
    found = []
    for query, params in statements:
        started = time.perf_counter()
        conn.execute(query.encode(), params)
        found.append(time.perf_counter() - started)
    conn.execute("reset role")
    return found


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 3)


def _record_usage_calls(count: int, seed: int, workspaces: int) -> list[tuple[str, Sequence[Any]]]:
    return [
        (
            "select public.record_usage(%s::uuid, 'sms', 1, %s, 'bench')",
            (workspace(1 + (seed + i) % workspaces), f"volume-{seed}-{i}"),
        )
        for i in range(count)
    ]


def twilio_deliveries(count: int, seed: str, workspaces: int) -> list[tuple[str, Sequence[Any]]]:
    """Signed inbound SMS deliveries to the loaded agents, as Twilio posts them (HMAC-SHA1, sorted fields)."""
    calls: list[tuple[str, Sequence[Any]]] = []
    for i in range(count):
        sid = "SM" + hashlib.md5(f"{seed}-{i}".encode()).hexdigest()
        payload = {
            "AccountSid": "AC4f2b9c0e1d3a5b7c9e0f1a2b3c4d5e6f",
            "ApiVersion": "2010-04-01",
            "Body": "Is the clinic open on Friday?",
            "From": "+14445550100",
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": f"+1555{1 + i % workspaces:07d}",
        }
        signed = TWILIO_URL + "".join(k + payload[k] for k in sorted(payload))
        signature = base64.b64encode(hmac.new(TWILIO_TOKEN.encode(), signed.encode(), hashlib.sha1).digest()).decode()
        calls.append(
            (
                "select public.ingest_webhook('twilio', %s::jsonb, %s::jsonb, null, %s)",
                (json.dumps(payload), json.dumps({"X-Twilio-Signature": signature}), TWILIO_URL),
            )
        )
    return calls


def _ensure_twilio_secret(ctx: Context) -> None:
    ctx.conn.execute(
        "select vault.create_secret(%s, 'twilio_auth_token') where not exists"
        " (select from vault.decrypted_secrets where name = 'twilio_auth_token')",
        (TWILIO_TOKEN,),
    )


@operation("hot_record_usage", "record_usage, median of 300 calls (ms), as service_role")
def hot_record_usage(ctx: Context) -> Result:
    with ctx.connect() as conn:
        times = _latencies(conn, _record_usage_calls(CALLS, int(time.time()), ctx.volume.workspaces))
    return Result(_median_ms(times) / 1000, f"median {_median_ms(times)} ms", {"median_ms": _median_ms(times)})


@operation("hot_deduct_credits", "deduct_credits, median of 300 calls (ms), as service_role")
def hot_deduct_credits(ctx: Context) -> Result:
    calls = [
        ("select public.deduct_credits(%s::uuid, 1, 'bench')", (workspace(1 + i % ctx.volume.workspaces),))
        for i in range(CALLS)
    ]
    with ctx.connect() as conn:
        times = _latencies(conn, calls)
    return Result(_median_ms(times) / 1000, f"median {_median_ms(times)} ms", {"median_ms": _median_ms(times)})


@operation("hot_ingest_webhook", "ingest_webhook of a new signed Twilio SMS, median of 300 calls (ms)")
def hot_ingest_webhook(ctx: Context) -> Result:
    _ensure_twilio_secret(ctx)
    calls = twilio_deliveries(CALLS, f"hot-{time.time()}", ctx.volume.workspaces)
    with ctx.connect() as conn:
        times = _latencies(conn, calls)
    return Result(_median_ms(times) / 1000, f"median {_median_ms(times)} ms", {"median_ms": _median_ms(times)})


@operation("record_usage_batch", "record_usage_batch of 1,000 events (when the function exists)")
def record_usage_batch(ctx: Context) -> Result:
    if not ctx.exists("public.record_usage_batch(jsonb)"):
        return Result.absent("record_usage_batch not in this database")
    times: list[float] = []
    for run in range(ctx.runs):
        events = [
            {"workspace_id": workspace(1 + i % ctx.volume.workspaces), "metric": "llm_tokens", "quantity": 100,
             "idempotency_key": f"batch-{time.time()}-{run}-{i}"}
            for i in range(1000)
        ]
        with ctx.connect() as conn:
            times += _latencies(conn, [("select public.record_usage_batch(%s::jsonb)", (json.dumps(events),))])
    return Result(statistics.median(times), "1,000 events per call", {"runs": [round(t, 4) for t in times]})


@operation("drain_webhooks", "drain_webhooks of 5,000 queued deliveries (when the drain exists)")
def drain_webhooks(ctx: Context) -> Result:
    if not ctx.exists("public.drain_webhooks(integer)"):
        return Result.absent("drain_webhooks not in this database")
    _ensure_twilio_secret(ctx)
    with ctx.connect() as conn:
        _latencies(conn, twilio_deliveries(5000, f"drain-{time.time()}", ctx.volume.workspaces))
        started = time.perf_counter()
        conn.execute("set role service_role")
        for _ in range(50):
            queued = conn.execute("select count(*) from public.webhook_queue where status = 'queued'").fetchone()
            if not queued or not queued[0]:
                break
            conn.execute("select public.drain_webhooks(1000)")
        seconds = time.perf_counter() - started
        conn.execute("reset role")
    return Result(seconds, "5,000 queued deliveries")


# -- retention -------------------------------------------------------------------------------


class _Sampler:
    """Meanwhile: the longest transaction of one backend, and the latency of API calls on a warmed connection."""

    def __init__(self, url: str, watched_pid: int, api: psycopg.Connection, calls: list[tuple[str, Sequence[Any]]]):
        self.url, self.pid, self.api, self.calls = url, watched_pid, api, calls
        self.longest = 0.0
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch), threading.Thread(target=self._call)]

    def __enter__(self) -> _Sampler:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _watch(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                row = conn.execute(
                    "select extract(epoch from clock_timestamp() - xact_start) from pg_stat_activity"
                    " where pid = %s and xact_start is not null",
                    (self.pid,),
                ).fetchone()
                if row and row[0] is not None:
                    self.longest = max(self.longest, float(row[0]))
                time.sleep(0.01)

    def _call(self) -> None:
        for query, params in self.calls:
            if self._stop.is_set():
                break
            started = time.perf_counter()
            self.api.execute(query.encode(), params)
            self.latencies.append(time.perf_counter() - started)


def _retention(ctx: Context, label: str) -> Result:
    _ensure_twilio_secret(ctx)
    workspaces = ctx.volume.workspaces
    with ctx.connect() as api, ctx.connect() as runner:
        api.execute("set role service_role")
        # The same warmed connection before and during: its plans are cached, so both measure the call.
        for query, params in twilio_deliveries(50, f"{label}-warm-{time.time()}", workspaces):
            api.execute(query.encode(), params)
        before = []
        for query, params in twilio_deliveries(CALLS, f"{label}-before-{time.time()}", workspaces):
            started = time.perf_counter()
            api.execute(query.encode(), params)
            before.append(time.perf_counter() - started)
        pid = scalar(runner, "select pg_backend_pid()")
        during_calls = twilio_deliveries(20000, f"{label}-during-{time.time()}", workspaces)
        with _Sampler(ctx.url, pid, api, during_calls) as sampler:
            started = time.perf_counter()
            runner.execute("call private.run_retention_in_batches()")
            seconds = time.perf_counter() - started
        run = scalar(
            runner,
            "select result from public.job_runs where job_name = 'retention_cleanup' order by id desc limit 1"
        )
    deleted = sum(int(v) for v in run["deleted"].values())
    figures = {
        "deleted": run["deleted"],
        "rows_per_second": round(deleted / seconds) if seconds else None,
        "longest_transaction_s": round(sampler.longest, 3),
        "ingest_median_ms_before": _median_ms(before),
        "ingest_median_ms_during": _median_ms(sampler.latencies) if sampler.latencies else None,
        "ingest_calls_during": len(sampler.latencies),
    }
    if sampler.latencies:
        figures["latency_ratio"] = round(statistics.median(sampler.latencies) / statistics.median(before), 2)
    detail = (
        f"{deleted:,} rows, {figures['rows_per_second']:,} rows/s, longest transaction"
        f" {figures['longest_transaction_s']} s, ingest {figures['ingest_median_ms_before']} ms before,"
        f" {figures['ingest_median_ms_during']} ms during ({len(sampler.latencies)} calls)"
    )
    return Result(seconds, detail, figures)


@operation(
    "retention_first_run",
    "retention, first run on the loaded history (finished deliveries past 30 days, in batches)",
    same_period=False,
    destructive=True,
    once=True,
)
def retention_first_run(ctx: Context) -> Result:
    return _retention(ctx, "first")


@operation("retention_steady_state", "retention, steady state: the next day's expired deliveries", destructive=True)
def retention_steady_state(ctx: Context) -> Result:
    # The night between two runs: autovacuum clears what the run before deleted (webhook_queue is vacuumed at 2%
    # dead rows), as it would by the next night; then one more day has expired (one more each round).
    ctx.conn.execute("vacuum public.webhook_queue")
    ctx.conn.execute(
        "update public.retention_policies set keep_days = 29 - %s where name = 'webhook_deliveries'", (ctx.round,)
    )
    try:
        return _retention(ctx, f"steady-{ctx.round}")
    finally:
        ctx.conn.execute("update public.retention_policies set keep_days = 30 where name = 'webhook_deliveries'")
