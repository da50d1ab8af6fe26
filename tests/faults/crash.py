"""The crash test's load and its checker, kept apart so a test can run the checker
against a deliberately broken function (tests/faults/test_crash_checker.py).

* :func:`setup_world` creates the workspaces, wallets, agents, Vault secrets and
  Paymob payment requests the load works on.
* :class:`Load` runs 8 client threads, each on its own connection, calling the API
  the way PostgREST does (``harness.rpc.call``) with a seeded mix of operations,
  and journals every call and the answer it got: ``ok`` (a result), ``refused``
  (an application error: PT402, PT409, 55P03 ...) or ``unknown`` (the connection
  died before an answer came; the call may or may not have committed).
* :func:`check` compares the database with the journal and returns every
  violation: an acknowledged effect missing or doubled, an unknown one doubled, a
  ledger that does not sum to its balance, a negative balance, a usage total that
  is not its events, a delivery processed twice.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import psycopg
from twilio.request_validator import RequestValidator

from harness.factories import Factories
from harness.rpc import RpcError, as_client_sees, call
from tests.support.paymob import paymob_payload, paymob_sign

SMS_URL = "https://api.example.test/webhooks/twilio/sms"
WORKSPACES = 4  # few, so clients contend for the same wallets and usage rows
FLAKY = "flaky"  # SMS bodies the downstream step fails on until it is healed


@dataclass
class World:
    twilio_token: str
    paymob_secret: str
    workspaces: list[str]
    numbers: list[str]
    payments: list[dict[str, Any]]


@dataclass
class Op:
    kind: str  # deduct | grant | usage | sms | redeliver | paymob
    fn: str
    args: dict[str, Any]
    key: str | None = None
    outcome: str = "pending"  # ok | refused | unknown
    answer: Any = None


def _sql(conn: psycopg.Connection, query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def setup_world(conn: psycopg.Connection, *, seed: int = 12) -> World:
    """Workspaces on the business plan (usage limits out of reach), funded wallets,
    an agent with an SMS channel per workspace, the signing secrets, a failing
    downstream step for FLAKY bodies, and pending Paymob payments."""
    rnd = random.Random(seed)
    token, paymob_secret = f"{rnd.getrandbits(128):032x}", f"{rnd.getrandbits(128):032X}"
    conn.execute("select vault.create_secret(%s, 'twilio_auth_token')", (token,))
    conn.execute("select vault.create_secret(%s, 'paymob_hmac_secret')", (paymob_secret,))
    conn.execute(
        """
        create function public.crash_flaky_sms() returns trigger language plpgsql as $$
        begin
            if new.body like 'flaky%%' then raise exception 'downstream outage (crash test)'; end if;
            return new;
        end $$;
        create trigger crash_flaky_sms before insert on public.sms_events
        for each row execute function public.crash_flaky_sms();
        """
    )
    workspaces, numbers, payments = [], [], []
    factories = Factories(conn)
    for i in range(WORKSPACES + 6):
        plan = "business" if i < WORKSPACES else "free"
        workspace = factories.workspace(name=f"crash {i}", plan_key=plan)
        ws = str(workspace.id)
        if i < WORKSPACES:
            workspaces.append(ws)
            call(conn, "grant_credits", {"workspace_id": ws, "amount": 100000, "reason": "crash test funding"})
            number = f"+1415666{i:04d}"
            agent = factories.agent(workspace, phone_number=number, agent_id=f"agent_crash_{i}")
            factories.channel(workspace, agent, channel_type="sms")
            numbers.append(number)
        else:
            # A pending Paymob payment, requested by its owner.
            args = {"workspace_id": ws, "plan_key": "pro", "provider": "paymob"}
            payments.append(call(conn, "create_payment_request", args, as_=workspace.owner.jwt).data)
    return World(token, paymob_secret, workspaces, numbers, payments)


def _twilio_delivery(world: World, rnd: random.Random, flaky: bool) -> dict[str, Any]:
    message_sid = "SM" + f"{rnd.getrandbits(128):032x}"
    params = {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "AccountSid": "AC" + "4f2b9c0e1d3a5b7c9e0f1a2b3c4d5e6f",
        "From": f"+1202555{rnd.randrange(10000):04d}",
        "To": rnd.choice(world.numbers),
        "Body": (FLAKY if flaky else "hello") + f" {rnd.getrandbits(32)}",
        "NumSegments": "1",
        "NumMedia": "0",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    signature = RequestValidator(world.twilio_token).compute_signature(SMS_URL, params)
    return {
        "provider": "twilio",
        "payload": params,
        "headers": {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
        "raw_body": urlencode(params),
        "url": SMS_URL,
    }


def next_op(world: World, rnd: random.Random, client: str, seq: int, sent: list[dict[str, Any]]) -> Op:
    """One operation of the mix, with a key of its own (round and client, sequence number)."""
    key = f"{client}-{seq}"
    ws = rnd.choice(world.workspaces)
    roll = rnd.random()
    if roll < 0.25:
        amount = rnd.choice([Decimal("1"), Decimal("2.5"), Decimal("7")])
        return Op("deduct", "deduct_credits", {"workspace_id": ws, "amount": amount, "reason": "crash test call", "idempotency_key": key}, key)
    if roll < 0.35:
        return Op("grant", "grant_credits", {"workspace_id": ws, "amount": Decimal("3"), "reason": "crash test top-up", "idempotency_key": key}, key)
    if roll < 0.60:
        return Op("usage", "record_usage", {"workspace_id": ws, "metric": "messages", "quantity": rnd.choice([1, 2, 5]), "idempotency_key": key, "source": "crash"}, key)
    if roll < 0.85 or not sent:
        delivery = _twilio_delivery(world, rnd, flaky=rnd.random() < 0.1)
        sent.append(delivery)
        return Op("sms", "ingest_webhook", delivery, delivery["payload"]["MessageSid"])
    if roll < 0.95:
        delivery = rnd.choice(sent)
        return Op("redeliver", "ingest_webhook", delivery, delivery["payload"]["MessageSid"])
    payment = rnd.choice(world.payments)
    payload = paymob_payload(payment["reference"], payment["amount"], payment["currency"], txn_id=900000 + world.payments.index(payment))
    return Op("paymob", "handle_paymob_callback", {"payload": payload, "hmac": paymob_sign(payload, world.paymob_secret)}, payment["payment_id"])


def _lost(err: RpcError) -> bool:
    """The connection died: no answer came, whatever the server did."""
    cause = err.__cause__
    return isinstance(cause, psycopg.OperationalError) or err.sqlstate[:2] in ("08", "57") or err.sqlstate == "XX000"


def run(conn: psycopg.Connection, op: Op) -> None:
    try:
        response = call(conn, op.fn, op.args)
        # A refused deduction answers HTTP 402 through response.status (keeping its
        # credits_exhausted alert): refused, as a client sees it.
        op.answer = as_client_sees(response) if op.kind in ("deduct", "grant", "usage") else response.data
        op.outcome = "ok"
    except RpcError as err:
        op.outcome = "unknown" if _lost(err) else "refused"
        op.answer = err
    except psycopg.Error as err:
        op.outcome, op.answer = "unknown", err


@dataclass
class Load:
    """8 clients calling the API until stopped or their connection dies."""

    url: str
    world: World
    seed: int
    clients: int = 8
    journal: list[list[Op]] = field(default_factory=list)
    backend_pids: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.journal = [[] for _ in range(self.clients)]
        self._stop = threading.Event()
        self._ready = threading.Barrier(self.clients + 1)
        self._sent: list[dict[str, Any]] = []
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]

    def start(self) -> None:
        for t in self._threads:
            t.start()
        self._ready.wait(timeout=60)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def ops(self) -> list[Op]:
        return [op for ops in self.journal for op in ops]

    def _client(self, i: int) -> None:
        rnd = random.Random(self.seed * 100 + i)
        try:
            conn = psycopg.connect(self.url, autocommit=True)
            self.backend_pids.append(_sql(conn, "select pg_backend_pid()"))
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
            self._ready.wait(timeout=60)
            return
        self._ready.wait(timeout=60)
        seq = 0
        with conn:
            while not self._stop.is_set():
                seq += 1
                op = next_op(self.world, rnd, f"r{self.seed}c{i}", seq, self._sent)
                self.journal[i].append(op)
                run(conn, op)
                if op.outcome == "unknown":
                    return  # the server went away: this client is done


def retry_unanswered(url: str, ops: list[Op]) -> list[Op]:
    """Send every call whose answer never came again, same key or body; return the retries."""
    retries = [Op(op.kind, op.fn, op.args, op.key) for op in ops if op.outcome == "unknown"]
    with psycopg.connect(url, autocommit=True) as conn:
        for op in retries:
            run(conn, op)
    return retries


def sweep(url: str, *, heal: bool) -> dict[str, int]:
    """Heal the downstream step, then let the sweeper (and the drain, where one exists) finish every delivery."""
    totals: Counter[str] = Counter()
    with psycopg.connect(url, autocommit=True) as conn:
        if heal:
            conn.execute("drop trigger if exists crash_flaky_sms on public.sms_events")
        for _ in range(20):
            while call(conn, "drain_webhooks", {"max_count": 10000}).data["drained"]:
                pass
            conn.execute("update public.webhook_queue set next_attempt_at = now() where status = 'failed'")
            summary = call(conn, "retry_failed_webhooks", {"max_count": 10000}).data
            totals.update({k: v for k, v in summary.items() if k != "job_run_id"})
            if summary["retried"] == 0:
                break
    return dict(totals)


def check(url: str, ops: list[Op], *, settled: bool = False) -> list[str]:
    """Every violation of the crash test's rules in the database at ``url``.

    ``settled``: every call has an answer and every delivery was swept, so each
    effect must be there exactly once (otherwise an unknown call's effect may be
    missing, and a failed delivery's processing too).
    """
    problems: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        ledger = {
            (ws, key): (kind, amount)
            for ws, key, kind, amount in conn.execute(
                "select workspace_id::text, idempotency_key, kind, amount from public.wallet_ledger where idempotency_key is not null"
            )
        }
        ledger_keys = Counter(
            (ws, key)
            for ws, key in conn.execute(
                "select workspace_id::text, idempotency_key from public.wallet_ledger where idempotency_key is not null"
            )
        )
        events = Counter(
            (ws, key)
            for ws, key in conn.execute(
                "select workspace_id::text, idempotency_key from public.usage_events where idempotency_key is not null"
            )
        )
        queue = conn.execute(
            "select idempotency_key, payload ->> 'MessageSid', status, id from public.webhook_queue where provider = 'twilio'"
        ).fetchall()
        sms_rows = conn.execute("select id::text, message_sid from public.sms_events").fetchall()
        sms = Counter(sid for _, sid in sms_rows)
        sms_usage = Counter(
            key for (key,) in conn.execute("select idempotency_key from public.usage_events where idempotency_key like 'twilio_sms:%%'")
        )
        payments: dict[str, str] = dict(conn.execute("select id::text, status from public.payments").fetchall())
        subscriptions = Counter(p for (p,) in conn.execute("select payment_id::text from public.subscriptions where payment_id is not null"))

        # The books: every ledger sums to its balance, no balance below zero.
        for ws, balance, total in conn.execute(
            "select w.workspace_id::text, w.balance, coalesce(sum(l.amount), 0) from public.workspace_wallets as w"
            " left join public.wallet_ledger as l using (workspace_id) group by w.workspace_id, w.balance"
        ):
            if balance != total:
                problems.append(f"wallet {ws}: balance {balance} but its ledger sums to {total}")
            if balance < 0:
                problems.append(f"wallet {ws}: balance {balance} below zero")
        for ws, metric, period, used, total in conn.execute(
            "select l.workspace_id::text, l.metric, l.period_start, l.used, coalesce(sum(e.quantity), 0)"
            " from public.usage_limits as l left join public.usage_events as e"
            " on e.workspace_id = l.workspace_id and e.metric = l.metric and e.period_start = l.period_start"
            " group by 1, 2, 3, 4"
        ):
            if used != total:
                problems.append(f"usage_limits {ws} {metric} {period}: used {used} but its events sum to {total}")

    # Deliveries: none processed twice.
    processed = Counter(key for key, _, status, _ in queue if status == "processed")
    for key, n in processed.items():
        if n > 1:
            problems.append(f"delivery {key} processed {n} times")
    for sid, n in sms.items():
        if n > 1:
            problems.append(f"message {sid}: {n} sms_events")
    by_sid: dict[str, list[str]] = {}
    for _, sid, status, _ in queue:
        by_sid.setdefault(sid, []).append(status)
    for key, n in sms_usage.items():
        if n > 1:
            problems.append(f"usage event {key} recorded {n} times")
    # Every message is billed: exactly one usage event per message SID, and none without one.
    missing = {f"twilio_sms:{sid}" for _, sid in sms_rows} ^ set(sms_usage)
    if missing:
        problems.append(f"sms_events and their usage events differ: {sorted(missing)[:5]}")

    for op in ops:
        if op.kind in ("deduct", "grant", "usage"):
            ws = op.args["workspace_id"]
            found = (ledger_keys if op.kind != "usage" else events)[(ws, op.key)]
            if op.outcome == "ok" and found != 1:
                problems.append(f"acknowledged {op.fn} {op.key}: {found} rows")
            elif op.outcome == "refused" and found != 0:
                problems.append(f"refused {op.fn} {op.key} ({op.answer}) left {found} rows")
            elif op.outcome == "unknown" and found > 1:
                problems.append(f"unanswered {op.fn} {op.key}: {found} rows")
            if op.kind != "usage" and op.outcome == "ok" and found == 1:
                kind, amount = ledger[(ws, op.key)]
                expected = -op.args["amount"] if op.kind == "deduct" else op.args["amount"]
                if (kind, amount) != (op.kind, expected):
                    problems.append(f"acknowledged {op.fn} {op.key}: ledger says {kind} {amount}")
        elif op.kind in ("sms", "redeliver"):
            statuses = by_sid.get(op.key or "", [])
            if op.outcome == "ok":
                if not statuses:
                    problems.append(f"acknowledged delivery {op.key}: no raw row")
                elif op.answer["status"] == "processed" and sms[op.key] != 1:
                    problems.append(f"acknowledged delivery {op.key}: {sms[op.key]} sms_events")
            if settled and statuses and sms[op.key] != 1:
                problems.append(f"delivery {op.key} after the sweep: {sms[op.key]} sms_events ({statuses})")
        elif op.kind == "paymob" and op.outcome == "ok":
            if payments.get(op.key or "") != "confirmed" or subscriptions[op.key] != 1:
                problems.append(
                    f"acknowledged payment {op.key}: status {payments.get(op.key or '')}, {subscriptions[op.key]} subscriptions"
                )
    for payment_id, n in subscriptions.items():
        if n > 1:
            problems.append(f"payment {payment_id}: {n} subscriptions")
    return problems


def wait_until_gone(pids: list[int], timeout: float = 30.0) -> None:
    """Wait for processes of the killed server to exit (orphaned backends notice the postmaster's death)."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.05)
    for pid in alive:  # still running: ours, from the killed server; end them
        os.kill(pid, 9)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

