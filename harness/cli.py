"""``opsdb``: the command line. Each command maps to one operation of the harness.

Every command takes ``--database-url`` (default: ``$DATABASE_URL``, else the
local cluster) and exits non-zero with a one-line reason on failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from harness import project
from harness.migrate import status as migration_status
from harness.provision import provision


def _out(line: str) -> None:
    print(line, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    cluster = project.local_cluster()
    fresh = cluster.load_state() is None
    cluster.start()
    url = cluster.ensure_database()
    _out(f"{'created' if fresh else 'reused'} local cluster in {cluster.state.data_dir}")
    provision(url, project.db_dir(), out=_out)
    _out(url)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    stopped = project.local_cluster().stop()
    _out("local cluster stopped" if stopped else "local cluster was not running")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    url = project.resolve_database_url(args.database_url)
    provision(url, project.db_dir(), dry_run=args.dry_run, out=_out)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    plan = migration_status(project.resolve_database_url(args.database_url), project.db_dir())
    for name in plan.applied:
        _out(f"applied  {name}")
    for f in plan.to_apply:
        _out(f"{'changed' if f.kind != 'versioned' else 'pending'}  {f.name}")
    for item in plan.drift:
        _out(f"DRIFT    {item}")
    _out(f"{len(plan.applied)} applied, {len(plan.to_apply)} to apply, {len(plan.drift)} drifted")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    plan = migration_status(project.resolve_database_url(args.database_url), project.db_dir())
    if plan.drift:
        for item in plan.drift:
            print(f"drift: {item}", file=sys.stderr)
        raise RuntimeError(f"{len(plan.drift)} applied versioned file(s) drifted: {plan.drift[0]}")
    _out(f"no drift: {len(plan.applied)} applied files match their checksums")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from harness.lint import lint

    problems = lint(project.root(), out=_out)
    if problems:
        raise RuntimeError(f"{problems} lint problem(s)")
    _out("lint clean")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from harness import schema_dump

    target = project.db_dir() / "schema.sql"
    url = project.resolve_database_url(args.database_url)
    if args.check:
        if schema_dump.dump(url) != (target.read_text() if target.exists() else ""):
            raise RuntimeError("db/schema.sql is stale: run `make schema` and commit it")
        _out("db/schema.sql is up to date")
        return 0
    changed = schema_dump.write(url, target)
    _out(f"{'wrote' if changed else 'unchanged'} {target.relative_to(project.root())}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    import psycopg

    from harness.audit import render, run_audit

    with psycopg.connect(project.resolve_database_url(args.database_url), autocommit=True) as conn:
        report = run_audit(conn)
    text = render(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        _out(f"wrote {args.output}: {report.verdict}")
    else:
        _out(text.rstrip())
    if report.failed:
        names = ", ".join(r.check.name for r in report.failed)
        raise RuntimeError(f"{report.verdict}: {len(report.failed)} check(s) failed: {names}")
    return 0


def cmd_drill(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.restore_drill import run_drill

    report = run_drill(
        project.resolve_database_url(args.database_url),
        keep_dump=Path(args.keep_dump) if args.keep_dump else None,
        keep_database=args.keep_database,
        out=_out,
    )
    for problem in report.problems:
        _out(f"DIFFERENT  {problem}")
    if not report.ok:
        raise RuntimeError(f"restore drill failed: {len(report.problems)} difference(s), first: {report.problems[0]}")
    total = report.seconds["dump"] + report.seconds["restore"]
    _out(f"restore drill passed: {len(report.tables)} tables identical; dump + restore took {total:.1f} s")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from harness.demo import run

    if args.database_url is None and not _has_env_url():
        cmd_up(args)
    run(project.resolve_database_url(args.database_url), out=_out)
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from harness.console.server import serve

    serve(project.resolve_database_url(args.database_url), args.as_email, args.port, out=_out)
    return 0


def _has_env_url() -> bool:
    import os

    return bool(os.environ.get("DATABASE_URL"))


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "up": (cmd_up, "start the local cluster in .opsdb/ (create it the first time), apply everything, print its URL"),
    "down": (cmd_down, "stop the local cluster"),
    "migrate": (cmd_migrate, "apply versioned files, then changed re-applied files"),
    "status": (cmd_status, "list applied, pending and changed files"),
    "verify": (cmd_verify, "exit non-zero when an applied versioned file was edited or removed"),
    "lint": (cmd_lint, "sqlfluff and the destructive-migration guard over db/"),
    "demo": (cmd_demo, "an end-to-end scenario on the local cluster"),
    "schema": (cmd_schema, "write db/schema.sql, the normalised dump of public and private (--check: compare only)"),
    "drill": (cmd_drill, "restore drill: dump, restore into a new database, compare every table and the schema"),
    "audit": (cmd_audit, "the security audit and readiness report of a live database (non-zero when a check fails)"),
    "console": (cmd_console, "the on-call web console on 127.0.0.1, acting as the platform admin named by --as"),
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="opsdb", description="opsdb: the operations database, its runner and tools")
    sub = root.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("--database-url", help="target database (default: $DATABASE_URL, else the local cluster)")
        if name == "migrate":
            cmd.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        if name == "schema":
            cmd.add_argument("--check", action="store_true", help="exit non-zero when db/schema.sql is stale")
        if name == "drill":
            cmd.add_argument("--keep-dump", help="keep the dump (the restore point) at this path")
            cmd.add_argument("--keep-database", action="store_true", help="keep the restored copy")
        if name == "audit":
            cmd.add_argument("--output", help="write the Markdown report to this file instead of printing it")
        if name == "console":
            cmd.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the platform admin to act as")
            cmd.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler = COMMANDS[args.command][0]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("opsdb: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure ends as one line, never a traceback
        reason = " ".join(str(exc).split()) or type(exc).__name__
        print(f"opsdb {args.command}: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
