"""Bursts: a fixed number of deliveries as fast as the clients can send them.

A :class:`Burst` is not a rate measured over a fixed time like a
:class:`~bench.scenario.Scenario`: it sends ``deliveries`` transactions once and
times how the database copes. A domain module exposes ``BURSTS: list[Burst]``
beside its ``SCENARIOS``. One run of a burst:

1. clones the template and runs ``setup`` (as for a scenario), then ``vacuum
   analyze`` and ``checkpoint``;
2. measures the burst's baseline alone for 2 s just before and 2 s just after, on
   a clone of its own, so rates can be read as ratios under the same load;
3. starts ``drainer`` (if any) on a connection of its own: a statement run again
   and again, pausing ``idle_seconds`` whenever it reports nothing drained, as
   pg_cron's drain does;
4. runs pgbench with ``clients`` clients for ``deliveries / clients`` transactions
   each: the time to absorb is pgbench's wall time;
5. waits until ``pending`` (a query counting what is left to process) reaches 0:
   the time until all are processed, from the burst's start;
6. reports the database server's CPU seconds per 1,000 deliveries: user + system
   time of the postmaster and all its children (backends, the drainer, autovacuum,
   the WAL writer, the checkpointer) from ``/proc/<pid>/stat``, the children that
   ended in between included (their time is added to the postmaster's ``cutime``
   and ``cstime`` when it reaps them). pgbench and this harness are not counted.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench import pgbench
from bench.runner import Target, fresh_database, prepare, prepared
from bench.scenario import NAME, Scenario

Out = Callable[[str], None]
BASELINE_SLICE_SECONDS = 2


@dataclass(frozen=True)
class Burst:
    """``deliveries`` transactions of ``script`` (one delivery each), timed; see the module doc."""

    name: str
    script: str
    setup: str
    deliveries: int
    pending: str
    baseline: str
    drainer: str | None = None
    idle_seconds: float = 0.25
    clients: int = 8
    session: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def problems(self) -> list[str]:
        found: list[str] = []
        if not NAME.match(self.name):
            found.append(f"name {self.name!r} is not [a-z][a-z0-9_]*")
        if self.clients < 1 or self.deliveries < self.clients or self.deliveries % self.clients:
            found.append(f"deliveries {self.deliveries} must be a positive multiple of clients {self.clients}")
        if not self.script.strip() or not self.pending.strip():
            found.append("script and pending must not be empty")
        return found


@dataclass(frozen=True)
class BurstResult:
    burst: str
    deliveries: int
    clients: int
    absorb_seconds: float
    processed_seconds: float
    cpu_seconds: float
    baseline: str
    baseline_tps: float
    error: str | None = None

    @property
    def absorbed_per_second(self) -> float:
        return self.deliveries / self.absorb_seconds if self.absorb_seconds else 0.0

    @property
    def processed_per_second(self) -> float:
        return self.deliveries / self.processed_seconds if self.processed_seconds else 0.0

    @property
    def cpu_seconds_per_1000(self) -> float:
        return self.cpu_seconds * 1000 / self.deliveries


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()  # fields from the 3rd on (state, ppid, ...)


def server_cpu_seconds(postmaster: int) -> float:
    """User + system seconds of the postmaster, its reaped children and its live children."""
    own = _stat(postmaster)
    total = sum(int(own[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # ended meanwhile: its time is in the postmaster's cutime/cstime
        if int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def postmaster_pid(conn: psycopg.Connection) -> int:
    """The postmaster of the server ``conn`` talks to (it must run on this machine)."""
    row = conn.execute("select pg_backend_pid()").fetchone()
    assert row is not None
    return int(_stat(int(row[0]))[1])


class _Drainer(threading.Thread):
    """Runs ``statement`` again and again until told to stop; sleeps when it drained nothing."""

    def __init__(self, url: str, statement: str, idle_seconds: float) -> None:
        super().__init__(daemon=True)
        self.url, self.statement, self.idle_seconds = url, statement, idle_seconds
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                while not self.stop.is_set():
                    row = conn.execute(self.statement).fetchone()
                    drained = int((row[0] or {}).get("drained", 0)) if row else 0
                    if drained == 0:
                        self.stop.wait(self.idle_seconds)
        except BaseException as exc:  # reported by the runner
            self.error = exc


def _baseline_tps(target: Target, baseline: Scenario, workdir: Path, clients: int) -> float:
    with prepared(target, baseline, workdir) as bench:
        return bench(clients, seconds=BASELINE_SLICE_SECONDS).tps


def run_burst(target: Target, burst: Burst, baseline: Scenario, workdir: Path, out: Out) -> BurstResult:
    """Clone, set up and send one burst; see the module doc."""
    script = workdir / f"{burst.name}.pgbench.sql"
    script.write_text(burst.script)
    before = _baseline_tps(target, baseline, workdir, burst.clients)
    with fresh_database(target) as dbname:
        prepare(target, dbname, Scenario(name=burst.name, script=burst.script, baseline=None, setup=burst.setup))
        url = target.url(dbname)
        with psycopg.connect(url, autocommit=True) as watcher:
            postmaster = postmaster_pid(watcher)
            cpu_before = server_cpu_seconds(postmaster)
            started = time.monotonic()
            drainer = _Drainer(url, burst.drainer, burst.idle_seconds) if burst.drainer else None
            if drainer:
                drainer.start()
            try:
                pgbench.run(
                    target.conn,
                    dbname,
                    script,
                    clients=burst.clients,
                    transactions=burst.deliveries // burst.clients,
                    session=burst.session,
                )
                absorbed = time.monotonic() - started
                while True:
                    row = watcher.execute(burst.pending).fetchone()
                    if row is not None and int(row[0]) == 0:
                        break
                    if drainer and drainer.error is not None:
                        raise RuntimeError(f"the drainer failed: {drainer.error}")
                    time.sleep(0.1)
                processed = time.monotonic() - started
            finally:
                if drainer:
                    drainer.stop.set()
                    drainer.join(timeout=60)
            cpu = server_cpu_seconds(postmaster) - cpu_before
    after = _baseline_tps(target, baseline, workdir, burst.clients)
    result = BurstResult(
        burst=burst.name,
        deliveries=burst.deliveries,
        clients=burst.clients,
        absorb_seconds=absorbed,
        processed_seconds=processed,
        cpu_seconds=cpu,
        baseline=baseline.name,
        baseline_tps=(before + after) / 2,
    )
    out(
        f"    absorbed in {absorbed:.1f} s, all processed after {processed:.1f} s,"
        f" {result.cpu_seconds_per_1000:.2f} server CPU s per 1,000"
    )
    return result


def table(results: list[BurstResult]) -> str:
    headers = ("burst", "deliveries", "absorbed in", "processed after", "CPU s / 1,000", "absorbed/s", "processed/s")
    rows = []
    for r in results:
        if r.error is not None:
            rows.append((r.burst, f"{r.deliveries:,}", "FAILED", "", "", "", ""))
            continue
        rows.append(
            (
                r.burst,
                f"{r.deliveries:,}",
                f"{r.absorb_seconds:.1f} s",
                f"{r.processed_seconds:.1f} s",
                f"{r.cpu_seconds_per_1000:.2f}",
                f"{r.absorbed_per_second:,.0f} ({r.absorbed_per_second / r.baseline_tps:.0%})",
                f"{r.processed_per_second:,.0f} ({r.processed_per_second / r.baseline_tps:.0%})",
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if results:
        beside = sorted({f"{r.baseline} ({r.baseline_tps:,.0f} TPS)" for r in results})
        lines.append(f"(rates in parentheses: of {', '.join(beside)}, measured alone just before and after each burst)")
    return "\n".join(lines)
