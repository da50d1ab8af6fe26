"""Run the volume bench on a dedicated throw-away cluster: load each size, time
every operation, report the 3x/1x ratios."""

from __future__ import annotations

import fnmatch
import os
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.volume import console_pages  # noqa: F401 - registers the console's pages as operations
from bench.volume import load as shape
from bench.volume.operations import Context, Operation, Result, ordered
from harness import project
from harness.cluster import LocalCluster
from harness.provision import provision

TEMPLATE_DB = "opsdb_volume_tmpl"
CRON_DB = "opsdb_volume_cron"

# Besides fsync, synchronous_commit and full_page_writes off (LocalCluster fast=True):
# memory for sorts and index builds, and WAL skipped for tables filled in the
# transaction that truncated them (wal_level minimal).
SETTINGS = {
    "shared_buffers": "'2GB'",
    "maintenance_work_mem": "'1GB'",
    "max_parallel_maintenance_workers": "2",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "'32GB'",
    "checkpoint_timeout": "'30min'",
}


@dataclass
class SizeRun:
    size: int
    volume: dict[str, int]
    load_seconds: float
    load_steps: dict[str, float]
    rows: dict[str, int]
    load_average: dict[str, list[float]] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


@contextmanager
def volume_cluster(out: Callable[[str], None], keep: bool = False) -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="opsdb-volume-"))
    cluster = LocalCluster(base, dbname=TEMPLATE_DB, fast=True)
    try:
        state = cluster.start()
        url = cluster.ensure_database(TEMPLATE_DB)
        plan = provision(url, project.db_dir(), out=lambda _line: None)
        out(f"cluster: PostgreSQL on 127.0.0.1:{state.port} ({base}); {len(plan.to_apply)} files of db/ applied")
        # pg_cron works in a database of its own, every job off: nothing wakes up mid-measurement.
        cluster.restart_with(**{"cron.database_name": f"'{CRON_DB}'"}, **SETTINGS)
        cluster.ensure_database_from(CRON_DB, template=TEMPLATE_DB)
        with psycopg.connect(cluster.url(CRON_DB), autocommit=True) as conn:
            conn.execute("update cron.job set active = false")
        yield cluster
    finally:
        if keep:
            out(f"kept the cluster in {base}: {cluster.url('postgres')} (stop it with pg_ctl, then delete the directory)")
        else:
            cluster.destroy()


def add_staff(conn: psycopg.Connection) -> None:
    """The support and admin users the staff operations read as."""
    conn.execute(
        """
        insert into auth.users (id, email) values
            ('00000000-0000-4000-b000-000000000001', 'support@volume.test'),
            ('00000000-0000-4000-b000-000000000002', 'admin@volume.test');
        insert into public.user_roles (user_id, role) values
            ('00000000-0000-4000-b000-000000000001', 'support'),
            ('00000000-0000-4000-b000-000000000002', 'admin');
        """
    )


def load_size(
    cluster: LocalCluster, size: int, volume: shape.Volume, out: Callable[[str], None]
) -> tuple[SizeRun, Context]:
    dbname = f"opsdb_volume_{size}x"
    url = cluster.ensure_database_from(dbname, template=TEMPLATE_DB)
    out(f"\n{size}x: loading {volume.usage_events:,} usage events over {volume.days} days into {dbname}")
    load_before = list(os.getloadavg())
    with psycopg.connect(url, autocommit=True) as conn:
        report = shape.load(conn, volume, out=lambda line: out(line))
        add_staff(conn)
    out(f"{size}x: loaded in {report.seconds} s (load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after)")
    run = SizeRun(size, asdict(volume), report.seconds, report.steps, report.rows)
    run.load_average["load"] = [round(x, 2) for x in (*load_before, *os.getloadavg())]
    return run, Context(url, volume, runs=1)


def _measure(op: Operation, ctx: Context) -> dict[str, Any]:
    try:
        result = op.run(ctx)
        return {"seconds": result.seconds, "detail": result.detail, **result.figures}
    except Exception as err:  # noqa: BLE001 - reported, and the other operations still run
        traceback.print_exc()
        return {"seconds": None, "error": f"{type(err).__name__}: {err}".strip()[:500]}


def measure_interleaved(
    op: Operation, sizes: list[tuple[SizeRun, Context]], rounds: int, out: Callable[[str], None]
) -> None:
    """Time ``op`` on every size in alternating rounds (1x, 3x, then 3x, 1x, ...), so the machine's load at any
    moment weighs on both sizes alike; each size's figure is the median of its rounds."""
    samples: dict[int, list[dict[str, Any]]] = {run.size: [] for run, _ctx in sizes}
    for r in range(1 if op.once else rounds):
        order = sizes if r % 2 == 0 else list(reversed(sizes))
        for run, ctx in order:
            ctx.round = r
            entry = _measure(op, ctx)
            entry["load_average"] = round(os.getloadavg()[0], 2)
            samples[run.size].append(entry)
    for run, _ctx in sizes:
        entries = samples[run.size]
        timed = [e["seconds"] for e in entries if e.get("seconds") is not None]
        final = dict(entries[-1])
        if timed:
            final["seconds"] = statistics.median(timed)
            final["rounds"] = [round(t, 4) for t in timed]
        run.results[op.name] = final
        shown = "n/a" if final.get("seconds") is None else f"{final['seconds']:.4f} s"
        out(f"  {run.size}x {op.name}: {shown} {final.get('detail') or final.get('error', '')}")


def select(only: list[str] | None) -> list[Operation]:
    chosen = ordered()
    if only:
        chosen = [o for o in chosen if any(fnmatch.fnmatchcase(o.name, p) for p in only)]
    return chosen


def ratio_rows(runs: list[SizeRun], operations: list[Operation]) -> list[dict[str, Any]]:
    """One row per operation: its time at each size and the largest size over the smallest."""
    rows = []
    for op in operations:
        cells = {r.size: r.results.get(op.name, {}) for r in runs}
        seconds = {size: c.get("seconds") for size, c in cells.items()}
        ratio = None
        sizes = sorted(seconds)
        if len(sizes) > 1:
            smallest, largest = seconds[sizes[0]], seconds[sizes[-1]]
            if smallest and largest:
                ratio = round(largest / smallest, 2)
        rows.append(
            {
                "operation": op.name,
                "description": op.description,
                "same_period": op.same_period,
                "seconds": seconds,
                "ratio": ratio,
                "details": {size: c.get("detail") or c.get("error") for size, c in cells.items()},
            }
        )
    return rows


def run_all(
    sizes: list[int],
    only: list[str] | None,
    rounds: int,
    fraction: float | None,
    out: Callable[[str], None],
    keep: bool = False,
) -> list[SizeRun]:
    operations = select(only)
    base = shape.Volume()
    with volume_cluster(out, keep) as cluster:
        loaded = []
        for size in sizes:
            volume = base.at(size)
            if fraction:
                volume = volume.scaled(fraction)
            loaded.append(load_size(cluster, size, volume, out))
        out(f"\ntiming {len(operations)} operations, {rounds} rounds, sizes interleaved")
        try:
            for op in operations:
                measure_interleaved(op, loaded, rounds, out)
        finally:
            for _run, ctx in loaded:
                ctx.close()
        if not keep:
            with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
                for run, _ctx in loaded:
                    conn.execute(f"drop database opsdb_volume_{run.size}x with (force)".encode())
    return [run for run, _ctx in loaded]
