"""Run pgbench once and read its summary (TPS, mean latency, counts)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.pgbin import BinariesNotFound, find_binaries


class PgbenchError(RuntimeError):
    """pgbench failed or printed no summary; the message carries its output."""


@dataclass(frozen=True)
class Connection:
    """Where pgbench connects: TCP to host:port as user (the local clusters trust it)."""

    host: str
    port: int
    user: str
    password: str | None = None


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    latency_ms: float
    transactions: int
    failed: int
    threads: int


_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.M)
_LATENCY = re.compile(r"^latency average = ([0-9.]+) ms", re.M)
_PROCESSED = re.compile(r"^number of transactions actually processed: (\d+)", re.M)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)


def pgbench_path() -> str:
    """pgbench beside the server binaries the harness uses, else the first on $PATH."""
    try:
        path = Path(find_binaries().path("pgbench"))
        if path.exists():
            return str(path)
    except BinariesNotFound:
        pass
    if found := shutil.which("pgbench"):
        return found
    raise PgbenchError(
        "pgbench not found beside the PostgreSQL server binaries nor on $PATH; "
        "install it with `apt-get install postgresql-15` (Debian ships it with the server)"
    )


def parse_summary(stdout: str, threads: int) -> PgbenchResult:
    """Read pgbench's end-of-run summary; raise when a figure is missing."""
    tps, latency, processed = _TPS.search(stdout), _LATENCY.search(stdout), _PROCESSED.search(stdout)
    if not (tps and latency and processed):
        raise PgbenchError(f"pgbench printed no summary:\n{stdout}")
    failed = _FAILED.search(stdout)
    return PgbenchResult(
        tps=float(tps.group(1)),
        latency_ms=float(latency.group(1)),
        transactions=int(processed.group(1)),
        failed=int(failed.group(1)) if failed else 0,
        threads=threads,
    )


def pgoptions(session: Mapping[str, str]) -> str:
    """``-c name=value`` for each setting; libpq splits on spaces unless backslash-escaped."""

    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace(" ", "\\ ")

    return " ".join(f"-c {name}={escape(value)}" for name, value in session.items())


def run(
    conn: Connection,
    dbname: str,
    script: Path,
    *,
    clients: int,
    seconds: int | None = None,
    transactions: int | None = None,
    variables: Mapping[str, str | int] | None = None,
    session: Mapping[str, str] | None = None,
    protocol: str = "simple",
) -> PgbenchResult:
    """Run ``script`` with ``clients`` clients for ``seconds`` (or ``transactions`` each).

    ``session`` settings reach only pgbench's connections (through ``PGOPTIONS``),
    never the harness's own.
    """
    if (seconds is None) == (transactions is None):
        raise ValueError("give exactly one of seconds and transactions")
    threads = max(1, min(clients, os.cpu_count() or 1))
    args = [
        pgbench_path(),
        "--no-vacuum",
        "--host",
        conn.host,
        "--port",
        str(conn.port),
        "--username",
        conn.user,
        "--client",
        str(clients),
        "--jobs",
        str(threads),
        "--protocol",
        protocol,
        "--file",
        str(script),
    ]
    args += ["--time", str(seconds)] if seconds is not None else ["--transactions", str(transactions)]
    for key, value in (variables or {}).items():
        args += ["--define", f"{key}={value}"]
    args.append(dbname)
    env = {**os.environ, "PGAPPNAME": "opsdb-bench"}
    if conn.password:
        env["PGPASSWORD"] = conn.password
    if session:
        env["PGOPTIONS"] = " ".join([env.get("PGOPTIONS", ""), pgoptions(session)]).strip()
    timeout = (seconds or 0) + 120 + (transactions or 0)
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        # Exit 2: a client aborted (an SQL error in the script, most often).
        raise PgbenchError(
            f"pgbench exited {result.returncode} on {script.name} with {clients} clients:\n"
            f"{result.stderr.strip()}\n{result.stdout.strip()}"
        )
    return parse_summary(result.stdout, threads)
