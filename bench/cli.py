"""``python -m bench`` (``make bench``): run the scenarios, print a table, write JSON."""

from __future__ import annotations

import argparse
import fnmatch
import signal
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import psycopg

from bench import burst, pgbench, registry, report
from bench.runner import Target, run_plan
from bench.server import FAST_SETTINGS, dedicated_cluster

from harness.rows import scalar


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the pgbench baselines and every domain scenario on a dedicated throw-away cluster.",
    )
    parser.add_argument("--seconds", type=int, default=10, help="duration of each pgbench run (default: 10)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only scenarios matching NAME (a name or shell pattern; repeatable); "
        "each is still measured paired with its baseline",
    )
    parser.add_argument("--list", action="store_true", help="list the registered scenarios and exit")
    parser.add_argument("--no-bursts", action="store_true", help="skip the bursts (see bench/burst.py)")
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=report.RESULTS_DIR,
        help="where the JSON goes (default: bench/results/)",
    )
    return parser


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    # Python dies on SIGTERM/SIGHUP without running `finally`; raising instead
    # lets the cluster be stopped and deleted (`timeout make bench`, a closed terminal).
    raise SystemExit(128 + signum)


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.seconds < 1:
        _parser().error("--seconds must be at least 1")
    try:
        registered = registry.discover()
        bursts = registry.discover_bursts(registered)
        chosen = [] if args.no_bursts else registry.select_bursts(bursts, args.only)
        only_bursts = bool(args.only and chosen and not _any_scenario(registered, args.only))
        runs = [] if only_bursts else registry.plan(registered, args.only)
    except registry.RegistryError as err:
        print(err, file=sys.stderr)
        return 2
    if args.list:
        for item in registered:
            s = item.scenario
            against = f"vs {s.baseline}" if s.baseline else "baseline"
            clients = ",".join(map(str, s.clients))
            _say(f"{s.name:32} {item.module:16} {against:28} clients {clients:6} {s.description}")
        for module, b in bursts:
            size = f"burst of {b.deliveries:,}"
            _say(f"{b.name:32} {module:16} {size:28} clients {b.clients:<6} {b.description}")
        return 0
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    slots = sum(1 if run.baseline_scenario is None else 2 for run in runs)
    _say(f"bench: {len(runs)} runs, {args.seconds} s each, paired ones twice (about {slots * (args.seconds + 2)} s)")
    if chosen:
        _say(f"then {len(chosen)} burst(s): " + ", ".join(f"{b.name} ({b.deliveries:,})" for b in chosen))
    started_at = datetime.now(UTC)
    with dedicated_cluster(_say) as target, tempfile.TemporaryDirectory(prefix="opsdb-bench-scripts-") as work:
        with psycopg.connect(target.url(target.template)) as conn:
            version = str(scalar(conn, "select version()"))
        measured = run_plan(target, runs, Path(work), seconds=args.seconds, out=_say)
        burst_results = _run_bursts(target, chosen, registered, Path(work))
    finished_at = datetime.now(UTC)
    _say("")
    _say(report.table(measured))
    if burst_results:
        _say("")
        _say(burst.table(burst_results))
    data = report.payload(
        measured,
        started_at=started_at,
        finished_at=finished_at,
        seconds=args.seconds,
        server={"version": version, "settings": FAST_SETTINGS},
    )
    data["bursts"] = [
        {**asdict(r), "cpu_seconds_per_1000": r.cpu_seconds_per_1000, "processed_per_second": r.processed_per_second}
        for r in burst_results
    ]
    path = report.write(data, args.results_dir, started_at)
    _say(f"\nwrote {path} and {path.with_name('latest.json')}")
    failed = any(m.error is not None for m in measured) or any(r.error is not None for r in burst_results)
    return 1 if failed else 0


def _any_scenario(registered: list[registry.Registered], only: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(r.scenario.name, p) for r in registered for p in only)


def _run_bursts(
    target: Target, chosen: list[burst.Burst], registered: list[registry.Registered], workdir: Path
) -> list[burst.BurstResult]:
    """Each burst once; a failed one is reported and recorded, and the others still run."""
    baselines = {r.scenario.name: r.scenario for r in registered if r.scenario.is_baseline}
    results: list[burst.BurstResult] = []
    for index, b in enumerate(chosen, start=1):
        _say(f"[burst {index}/{len(chosen)}] {b.name}: {b.deliveries:,} deliveries from {b.clients} clients")
        try:
            results.append(burst.run_burst(target, b, baselines[b.baseline], workdir, _say))
        except (pgbench.PgbenchError, psycopg.Error, RuntimeError) as err:
            _say(f"    FAILED: {err}")
            results.append(burst.BurstResult(b.name, b.deliveries, b.clients, 0, 0, 0, b.baseline, 0, error=str(err)))
    return results
