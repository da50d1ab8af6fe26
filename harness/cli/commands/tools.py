"""``opsdb export``, ``metrics``, ``console``: the project seen from outside (Supabase CLI, Prometheus, on-call)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import project
from harness.cli.command import Command, out


def export(args: argparse.Namespace) -> int:
    from harness.export_supabase import export

    export(project.db_dir(), Path(args.supabase), out=out)
    return 0


def export_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--supabase", metavar="DIR", required=True, help="write DIR/supabase/migrations/")


def metrics(args: argparse.Namespace) -> int:
    from harness import metrics

    url = project.resolve_database_url(args.database_url)
    if args.serve is None:
        sys.stdout.write(metrics.exposition(url))
        return 0
    metrics.serve(url, args.serve, args.host, out=out)
    return 0


def metrics_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--serve", type=int, metavar="PORT", help="serve /metrics on this port (0: any free port)")
    cmd.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")


def console(args: argparse.Namespace) -> int:
    from harness.console.server import serve

    serve(project.resolve_database_url(args.database_url), args.as_email, args.port, out=out)
    return 0


def console_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the platform admin to act as")
    cmd.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")


EXPORT = Command(
    "export",
    export,
    "write a Supabase CLI supabase/migrations/ folder (--supabase DIR)",
    options=export_options,
    no_database="it writes files from db/ only",
)
METRICS = Command(
    "metrics",
    metrics,
    "the monitoring signals in the Prometheus text format (--serve PORT: serve /metrics)",
    options=metrics_options,
)
CONSOLE = Command(
    "console",
    console,
    "the on-call web console on 127.0.0.1, acting as the platform admin named by --as",
    options=console_options,
)
