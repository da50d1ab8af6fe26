"""Measure scenarios: each run gets a fresh clone of the provisioned database.

A clone per run (``create database ... template``) means every measurement
starts from the same state: no dead rows or grown tables left by the previous
scenario, and setup SQL that may assume an empty schema.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
from psycopg import sql

from bench import pgbench
from bench.registry import PlannedRun
from bench.scenario import Scenario

Out = Callable[[str], None]


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
    # This run's TPS over the baseline's TPS at the same client count, same run.
    ratio: float | None = None
    target_ratio: float | None = None

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
    script = workdir / f"{scenario.name}.pgbench.sql"
    script.write_text(scenario.script_text)
    with fresh_database(target) as dbname:
        prepare(target, dbname, scenario)
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


def run_plan(target: Target, runs: list[PlannedRun], workdir: Path, *, seconds: int, out: Out) -> list[Measurement]:
    """Measure every planned run in order, then attach each ratio to its baseline."""
    measured: list[Measurement] = []
    for index, run in enumerate(runs, start=1):
        out(f"[{index}/{len(runs)}] {run.scenario.name}: {run.clients} client(s), {seconds} s")
        result = measure(target, run.scenario, run.clients, workdir, seconds=seconds)
        measured.append(
            Measurement(
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
                target_ratio=run.scenario.target_ratio,
            )
        )
    return with_ratios(measured)


def with_ratios(measured: list[Measurement]) -> list[Measurement]:
    baseline_tps = {(m.scenario, m.clients): m.tps for m in measured if m.baseline is None}
    result = []
    for m in measured:
        base = baseline_tps.get((m.baseline, m.clients)) if m.baseline else None
        result.append(replace(m, ratio=m.tps / base) if base else m)
    return result
