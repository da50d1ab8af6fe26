"""Print the results table and write them as JSON under bench/results/."""

from __future__ import annotations

import itertools
import json
import os
import platform
import subprocess
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.runner import Measurement

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HEADERS = ("scenario", "clients", "tps", "latency ms", "vs baseline", "target")


def _ratio_cell(m: Measurement) -> str:
    if m.error is not None:
        return "FAILED (see above)"
    if m.baseline is None:
        return "(baseline)"
    if m.ratio is None or m.baseline_tps is None:
        return f"? of {m.baseline}"
    return f"{m.ratio:.0%} of {m.baseline} ({m.baseline_tps:,.0f})"


def _target_cell(m: Measurement) -> str:
    if m.target_ratio is None:
        return ""
    verdict = {True: "met", False: "BELOW", None: "?"}[m.meets_target]
    return f">= {m.target_ratio:.0%} {verdict}"


def table(measured: list[Measurement]) -> str:
    """A plain-text table: one row per run, ratios for non-baseline scenarios."""
    rows = [
        (
            m.scenario,
            str(m.clients),
            f"{m.tps:,.0f}",
            f"{m.latency_ms:.3f}",
            _ratio_cell(m),
            _target_cell(m),
        )
        for m in measured
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    right = {1, 2, 3}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(HEADERS), line(tuple("-" * w for w in widths))]
    out += [line(r) for r in rows]
    failed = [m for m in measured if m.failed]
    out += [f"note: {m.scenario} at {m.clients} clients had {m.failed} failed transactions" for m in failed]
    broken = [m for m in measured if m.error is not None]
    out += [f"FAILED: {m.scenario} at {m.clients} clients: {m.error.splitlines()[0]}" for m in broken if m.error]
    return "\n".join(out)


def _git_commit(root: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root)
    except OSError:
        return None
    return result.stdout.strip() or None


def payload(
    measured: list[Measurement],
    *,
    started_at: datetime,
    finished_at: datetime,
    seconds: int,
    server: dict[str, Any],
) -> dict[str, Any]:
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": finished_at.isoformat(timespec="seconds"),
        "seconds_per_run": seconds,
        "git_commit": _git_commit(RESULTS_DIR.parent),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "server": server,
        "results": [{**asdict(m), "meets_target": m.meets_target} for m in measured],
    }


def write(data: dict[str, Any], results_dir: Path, started_at: datetime) -> Path:
    """Write ``<UTC timestamp>.json`` and ``latest.json``; return the timestamped path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2) + "\n"
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"{stamp}.json"
    # Two runs started in the same second (helpers benchmarking side by side) keep both files.
    for n in itertools.count(2):
        if not path.exists():
            break
        path = results_dir / f"{stamp}-{n}.json"
    path.write_text(text)
    (results_dir / "latest.json").write_text(text)
    return path
