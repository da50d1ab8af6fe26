"""Measure scenarios: each run gets a fresh clone of the provisioned database.

A clone per run (``create database ... template``) means every measurement
starts from the same state: no dead rows or grown tables left by the previous
scenario, and setup SQL that may assume an empty schema.

A domain scenario is measured *paired* with its baseline: both get a clone, and
pgbench alternates between them in short slices (baseline, scenario, scenario,
baseline, ...). On a shared machine the load moves from one minute to the next;
slices side by side see the same load, so the ratio stays meaningful when the
absolute numbers do not.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from bench import pgbench
from bench.registry import PlannedRun
from bench.scenario import Scenario
from harness.progress import heartbeat

Out = Callable[[str], None]
# Length of one slice of a paired measurement, in seconds.
SLICE_SECONDS = 2


@dataclass(frozen=True)
class Target:
    """A server and the provisioned database every run is cloned from."""

    conn: pgbench.Connection
    template: str
    maintenance_db: str = "postgres"

    def url(self, dbname: str) -> str:
        auth = self.conn.user + (f":{self.conn.password}" if self.conn.password else "")
        return f"postgresql://{auth}@{self.conn.host}:{self.conn.port}/{dbname}"


@dataclass(frozen=True)
class Measurement:
    scenario: str
    module: str
    baseline: str | None
    clients: int
    threads: int
    seconds: int | None
    tps: float
    latency_ms: float
    transactions: int
    failed: int
    # This scenario's TPS over its baseline's TPS, measured in alternating slices.
    ratio: float | None = None
    baseline_tps: float | None = None
    target_ratio: float | None = None
    # Set when the run failed (setup SQL or pgbench); the figures are then zero.
    error: str | None = None

    @property
    def meets_target(self) -> bool | None:
        if self.ratio is None or self.target_ratio is None:
            return None
        return self.ratio >= self.target_ratio


_counter = itertools.count(1)


@contextmanager
def fresh_database(target: Target) -> Iterator[str]:
    """A new database cloned from the target's template, dropped afterwards."""
    name = f"opsdb_bench_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(target.url(target.maintenance_db), autocommit=True) as admin:
        admin.execute(
            sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(target.template))
        )
    try:
        yield name
    finally:
        with psycopg.connect(target.url(target.maintenance_db), autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def prepare(target: Target, dbname: str, scenario: Scenario) -> None:
    """Run the scenario's setup as the superuser, then settle the database."""
    with psycopg.connect(target.url(dbname), autocommit=True) as conn:
        if scenario.setup.strip():
            # No parameters: psycopg sends it verbatim as one simple query, so
            # the statements run as one implicit transaction (all or nothing).
            conn.execute(scenario.setup.encode())
        # Fresh statistics and no pending writes, so the first seconds measure
        # the workload rather than autovacuum's or the checkpointer's catch-up.
        conn.execute("vacuum analyze")
        conn.execute("checkpoint")


@contextmanager
def prepared(target: Target, scenario: Scenario, workdir: Path) -> Iterator[Callable[..., pgbench.PgbenchResult]]:
    """A clone set up for ``scenario``; yields ``bench(clients, seconds=|transactions=)``."""
    script = workdir / f"{scenario.name}.pgbench.sql"
    script.write_text(scenario.script_text)
    with fresh_database(target) as dbname:
        prepare(target, dbname, scenario)

        def bench(clients: int, *, seconds: int | None = None, transactions: int | None = None) -> pgbench.PgbenchResult:
            return pgbench.run(
                target.conn,
                dbname,
                script,
                clients=clients,
                seconds=seconds,
                transactions=transactions,
                variables=scenario.variables,
                session=scenario.session,
                protocol=scenario.protocol,
            )

        yield bench


def measure(
    target: Target,
    scenario: Scenario,
    clients: int,
    workdir: Path,
    *,
    seconds: int | None = None,
    transactions: int | None = None,
) -> pgbench.PgbenchResult:
    """Clone, set up, and run one scenario at one client count."""
    with prepared(target, scenario, workdir) as bench:
        return bench(clients, seconds=seconds, transactions=transactions)


def combine(slices: list[pgbench.PgbenchResult]) -> pgbench.PgbenchResult:
    """Slices of equal length: mean TPS, transaction-weighted mean latency, summed counts."""
    transactions = sum(s.transactions for s in slices)
    return pgbench.PgbenchResult(
        tps=sum(s.tps for s in slices) / len(slices),
        latency_ms=sum(s.latency_ms * s.transactions for s in slices) / transactions if transactions else 0.0,
        transactions=transactions,
        failed=sum(s.failed for s in slices),
        threads=slices[0].threads,
    )


def measure_paired(
    target: Target, scenario: Scenario, baseline: Scenario, clients: int, workdir: Path, *, seconds: int
) -> tuple[pgbench.PgbenchResult, pgbench.PgbenchResult]:
    """``seconds`` of each, in alternating slices (B S S B B S ...); returns (scenario, baseline)."""
    pairs = max(1, seconds // SLICE_SECONDS)
    slice_seconds = max(1, seconds // pairs)
    ours: list[pgbench.PgbenchResult] = []
    theirs: list[pgbench.PgbenchResult] = []
    with prepared(target, scenario, workdir) as run_ours, prepared(target, baseline, workdir) as run_theirs:
        for pair in range(pairs):
            # Alternate which goes first, so a trend in the load favours neither.
            order = [(run_theirs, theirs), (run_ours, ours)]
            for bench, results in order if pair % 2 == 0 else reversed(order):
                results.append(bench(clients, seconds=slice_seconds))
    return combine(ours), combine(theirs)


def run_plan(target: Target, runs: list[PlannedRun], workdir: Path, *, seconds: int, out: Out) -> list[Measurement]:
    """Measure every planned run in order: baselines alone, the others paired with their baseline.

    A run that fails (its setup or its script) is reported and recorded with its
    error, and the others still run: one broken scenario does not hide the rest.
    """
    measured: list[Measurement] = []
    for index, run in enumerate(runs, start=1):
        paired = run.baseline_scenario is not None
        took = f"{seconds} s" + (f" paired with {run.scenario.baseline}" if paired else "")
        out(f"[{index}/{len(runs)}] {run.scenario.name}: {run.clients} client(s), {took}")
        try:
            with heartbeat(out, f"measuring {run.scenario.name}"):
                result = _measure_run(target, run, workdir, seconds)
            measured.append(result)
            ratio = f", {result.ratio:.2f} x its baseline" if result.ratio is not None else ""
            out(f"    {result.tps:,.0f} tps, {result.latency_ms:.2f} ms mean latency{ratio}")
        except (pgbench.PgbenchError, psycopg.Error) as err:
            out(f"    FAILED: {err}")
            measured.append(
                Measurement(
                    scenario=run.scenario.name,
                    module=run.module,
                    baseline=run.scenario.baseline,
                    clients=run.clients,
                    threads=0,
                    seconds=seconds,
                    tps=0.0,
                    latency_ms=0.0,
                    transactions=0,
                    failed=0,
                    target_ratio=run.scenario.target_ratio,
                    error=str(err),
                )
            )
    return measured


def _measure_run(target: Target, run: PlannedRun, workdir: Path, seconds: int) -> Measurement:
    baseline_tps: float | None = None
    if run.baseline_scenario is not None:
        result, theirs = measure_paired(target, run.scenario, run.baseline_scenario, run.clients, workdir, seconds=seconds)
        baseline_tps = theirs.tps
    else:
        result = measure(target, run.scenario, run.clients, workdir, seconds=seconds)
    return Measurement(
        scenario=run.scenario.name,
        module=run.module,
        baseline=run.scenario.baseline,
        clients=run.clients,
        threads=result.threads,
        seconds=seconds,
        tps=result.tps,
        latency_ms=result.latency_ms,
        transactions=result.transactions,
        failed=result.failed,
        ratio=result.tps / baseline_tps if baseline_tps else None,
        baseline_tps=baseline_tps,
        target_ratio=run.scenario.target_ratio,
    )
