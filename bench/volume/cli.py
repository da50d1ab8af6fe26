"""``python -m bench.volume`` (``make bench-volume``): load 1x and 3x, time every operation, print the ratios."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.report import RESULTS_DIR
from bench.volume.operations import ordered
from bench.volume.run import SETTINGS, ratio_rows, run_all, select

# The bound for work on the same period: the 3x history may cost at most 30% more.
SAME_PERIOD_BOUND = 1.3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.volume", description=__doc__)
    parser.add_argument("--sizes", default="1,3", help="history multiples to load (default: 1,3)")
    parser.add_argument("--only", action="append", metavar="NAME", help="operations matching NAME (repeatable)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed rounds per operation and size, sizes alternating (default: 5)"
    )
    parser.add_argument(
        "--fraction", type=float, default=None, help="load this fraction of the volume (a quick look; default: all)"
    )
    parser.add_argument("--list", action="store_true", help="list the operations and exit")
    parser.add_argument(
        "--keep", action="store_true", help="keep the cluster and the loaded databases (to look at plans); prints where"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    return parser


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _say(line: str) -> None:
    print(line, flush=True)


def _cell(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def table(rows: list[dict[str, Any]], sizes: list[int]) -> str:
    headers = ["operation", *[f"{s}x" for s in sizes], f"{sizes[-1]}x/{sizes[0]}x" if len(sizes) > 1 else "", "bound"]
    body = []
    for r in rows:
        verdict = ""
        if r["ratio"] is not None:
            verdict = ("met" if r["ratio"] <= SAME_PERIOD_BOUND else "OVER") if r["same_period"] else "(history)"
        body.append(
            [
                r["operation"],
                *[_cell(r["seconds"].get(s)) for s in sizes],
                "" if r["ratio"] is None else f"{r['ratio']:.2f}",
                verdict,
            ]
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *[line(b) for b in body]])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        for op in ordered():
            kind = "same period" if op.same_period else "history"
            _say(f"{op.name:30} {kind:12} {op.description}")
        return 0
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    started = datetime.now(UTC)
    runs = run_all(sizes, args.only, args.rounds, args.fraction, _say, args.keep)
    rows = ratio_rows(runs, select(args.only))
    _say("")
    _say(table(rows, sizes))
    for run in runs:
        _say(f"{run.size}x loaded in {run.load_seconds} s; load average {run.load_average['load']}")
    data = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "server_settings": SETTINGS,
        "fraction": args.fraction,
        "sizes": [run.__dict__ for run in runs],
        "ratios": rows,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"volume-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    (args.results_dir / "volume-latest.json").write_text(json.dumps(data, indent=2, default=str))
    _say(f"\nwrote {path}")
    failed = [name for run in runs for name, entry in run.results.items() if "error" in entry]
    for name in failed:
        _say(f"FAILED: {name}")
    return 1 if failed else 0
