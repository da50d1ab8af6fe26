"""Bursts (bench/burst.py): registered soundly, and a small one runs end to end.

Nothing here is timed: a burst of 16 deliveries only has to be absorbed, processed
to the last one, and measured (positive times, positive server CPU).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import psycopg
import pytest
from pytest_postgresql.executors import NoopExecutor

from bench import pgbench, registry
from bench.burst import Burst, postmaster_pid, run_burst, server_cpu_seconds, table
from bench.runner import Target
from bench.scenarios import webhooks

REGISTERED = registry.discover()


@pytest.fixture
def target(opsdb_server: NoopExecutor) -> Target:
    return Target(
        conn=pgbench.Connection(
            host=opsdb_server.host, port=opsdb_server.port, user=opsdb_server.user, password=opsdb_server.password
        ),
        template=opsdb_server.template_dbname,
        maintenance_db=opsdb_server.maintenance_dbname,
    )


def test_the_webhook_bursts_are_registered_with_a_baseline() -> None:
    bursts = {b.name: b for _, b in registry.discover_bursts(REGISTERED)}
    assert {"webhooks_burst_50k", "webhooks_burst_50k_in_call"} <= set(bursts)
    assert all(b.deliveries == 50_000 and b.baseline == "insert_unique_key" for b in bursts.values())
    assert bursts["webhooks_burst_50k"].drainer == "select public.drain_webhooks(1000)"
    assert registry.select_bursts(registry.discover_bursts(REGISTERED), ["*_in_call"]) == [
        bursts["webhooks_burst_50k_in_call"]
    ]


def test_a_burst_must_split_evenly_over_its_clients() -> None:
    bad = Burst(name="Bad", script="select 1;", setup="", deliveries=10, pending="select 0", baseline="x", clients=3)
    problems = "\n".join(bad.problems())
    assert "is not [a-z][a-z0-9_]*" in problems and "positive multiple of clients" in problems


def test_server_cpu_counts_the_backends_of_this_server(db: psycopg.Connection) -> None:
    postmaster = postmaster_pid(db)
    before = server_cpu_seconds(postmaster)
    db.execute("select count(*) from generate_series(1, 3000000)")
    assert server_cpu_seconds(postmaster) > before


@pytest.mark.parametrize("name", ["webhooks_burst_50k", "webhooks_burst_50k_in_call"])
def test_a_small_burst_is_absorbed_processed_and_measured(target: Target, tmp_path: Path, name: str) -> None:
    (full,) = [b for _, b in registry.discover_bursts(REGISTERED) if b.name == name]
    small = dataclasses.replace(
        full,
        deliveries=16,
        setup=webhooks.UNIQUE_SETUP.replace(f"generate_series(1, {webhooks.POOL})", "generate_series(1, 16)"),
        idle_seconds=0.05,
    )
    baseline = next(r.scenario for r in REGISTERED if r.scenario.name == small.baseline)

    result = run_burst(target, small, baseline, tmp_path, out=lambda _line: None)

    assert result.error is None and result.deliveries == 16
    assert 0 < result.absorb_seconds <= result.processed_seconds
    assert result.cpu_seconds > 0 and result.baseline_tps > 0
    assert name in table([result])
