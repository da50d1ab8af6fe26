"""``opsdb``: the command line. Each command maps to one operation of the harness.

Every command that touches a database takes ``--database-url`` (default:
``$DATABASE_URL``, then libpq's ``PG*`` variables, else the local cluster; see
:mod:`harness.cli_target`), prints its target first (password hidden) and exits
non-zero with a one-line reason on failure (``--debug``: with the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable

from harness import cli_target, project
from harness.migrate import status as migration_status
from harness.provision import provision

# Commands that never connect to --database-url: up and down manage the local cluster, lint reads files.
# Commands that never connect to a database, and why (they refuse --database-url).
NO_DATABASE = {
    "up": "it always manages the local cluster in .opsdb/",
    "down": "it always manages the local cluster in .opsdb/",
    "export": "it writes files from db/ only",
}


class UsageError(RuntimeError):
    """A command line that cannot mean what it says; exits 2."""


def _out(line: str) -> None:
    print(line, flush=True)


def _note(line: str) -> None:
    """Where a command goes and what it is doing: stderr, so stdout stays the command's output."""
    print(line, file=sys.stderr, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    cluster = project.local_cluster()
    fresh = cluster.load_state() is None
    cluster.start()
    url = cluster.ensure_database()
    _note(f"opsdb up: target {cli_target.describe(url)} (the local cluster in .opsdb/)")
    _out(f"{'created' if fresh else 'reused'} local cluster in {cluster.state.data_dir}")
    provision(url, project.db_dir(), out=_out)
    _out(url)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    stopped = project.local_cluster().stop()
    _out("local cluster stopped" if stopped else "local cluster was not running")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    url = project.resolve_database_url(args.database_url)
    backup = Path(args.backup) if args.backup else None
    provision(url, project.db_dir(), dry_run=args.dry_run, backup=backup, out=_out)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from harness.deploy import status as deploy_status

    plan = migration_status(project.resolve_database_url(args.database_url), project.db_dir())
    for name in plan.applied:
        _out(f"applied  {name}")
    for f in plan.to_apply:
        _out(f"{plan.label(f)}  {f.name}")
    for f in plan.waiting:
        _out(f"waiting  {f.name} (needs pg_cron in this database)")
    for item in plan.drift:
        _out(f"DRIFT    {item}")
    waiting = f", {len(plan.waiting)} waiting for pg_cron" if plan.waiting else ""
    _out(f"{len(plan.applied)} applied, {len(plan.to_apply)} to apply{waiting}, {len(plan.drift)} drifted")
    for line in deploy_status.status_lines(project.resolve_database_url(args.database_url), project.db_dir()):
        _out(line)
    return 0


def cmd_deployments(args: argparse.Namespace) -> int:
    import psycopg

    from harness.deploy import deployments

    with psycopg.connect(project.resolve_database_url(args.database_url), autocommit=True) as conn:
        found = deployments.records(conn, limit=args.limit)
    for record in found:
        _out(record.line())
    _out(f"{len(found)} deployment(s) shown" if found else "no deployment recorded yet")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from harness.deploy.status import find_orphans

    url = project.resolve_database_url(args.database_url)
    plan = migration_status(url, project.db_dir())
    if plan.drift:
        for item in plan.drift:
            print(f"drift: {item}", file=sys.stderr)
        raise RuntimeError(f"{len(plan.drift)} applied versioned file(s) drifted: {plan.drift[0]}")
    found = find_orphans(url, project.db_dir())
    if found:
        for orphan in found:
            print(f"orphan: {orphan}", file=sys.stderr)
        raise RuntimeError(f"{len(found)} orphan(s), objects no file defines: {found[0].kind} {found[0].name}")
    _out(f"no drift: {len(plan.applied)} applied files match their checksums; no orphans")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from harness.deploy import squawk
    from harness.deploy.lint import lint

    if args.accept:
        accepted = squawk.accept(project.root())
        for name in accepted:
            _out(f"accepted {name}")
        _out(f"{len(accepted)} migration(s) recorded as landed in {squawk.CONFIG}")
        return 0
    url = project.resolve_database_url(args.database_url) if args.database_url else None
    problems = lint(project.root(), out=_out, database_url=url)
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
    from harness.audit import render
    from harness.audit.ci import EXIT_CANNOT_RUN, CannotRun, audit_and_mark, to_json

    try:
        report, known_good = audit_and_mark(project.resolve_database_url(args.database_url))
    except CannotRun as err:
        print(f"opsdb audit: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    text = to_json(report, known_good) if args.format == "json" else render(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        _out(f"wrote {args.output}: {report.verdict}")
    else:
        _out(text.rstrip())
    if known_good is not None and args.format != "json":
        _out(f"deployment #{known_good} marked known-good")
    if report.failed:
        names = ", ".join(r.check.name for r in report.failed)
        raise RuntimeError(f"{report.verdict}: {len(report.failed)} check(s) failed: {names}")
    return 0


def cmd_drill(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.deploy.restore_drill import run_drill

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


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.export_supabase import export

    export(project.db_dir(), Path(args.supabase), out=_out)
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from harness import metrics

    url = project.resolve_database_url(args.database_url)
    if args.serve is None:
        sys.stdout.write(metrics.exposition(url))
        return 0
    metrics.serve(url, args.serve, args.host, out=_out)
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from harness.console.server import serve

    serve(project.resolve_database_url(args.database_url), args.as_email, args.port, out=_out)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from harness.demo import run

    if args.database_url is None:
        cmd_up(args)
        target = cli_target.resolve(project.local_cluster().url())
        _note(f"opsdb demo: target {target.description} (the local cluster in .opsdb/)")
        args.database_url = target.url
    run(args.database_url, out=_out)
    return 0


def _demo_target(args: argparse.Namespace) -> None:
    """The demo writes workspaces, users and made-up Vault secrets: the local cluster only, unless told.

    Only an explicit target counts (--database-url, DATABASE_URL): the PG*
    variables a DBA keeps for psql do not move the demo off the local cluster.
    """
    if not (args.database_url or os.environ.get("DATABASE_URL")):
        return  # cmd_demo starts the local cluster
    target = cli_target.resolve(args.database_url)
    _note(f"opsdb demo: target {target.description} (from {target.source})")
    if not cli_target.is_local_cluster(target.url) and not args.allow_other_database:
        raise UsageError(
            f"{target.description} (from {target.source}) is not the local cluster, and the demo writes demo "
            "workspaces, users and made-up Vault signing secrets into the database it runs on: run it on the "
            "local cluster (unset DATABASE_URL, no --database-url), or pass --allow-other-database to write them there"
        )
    args.database_url = target.url


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "up": (cmd_up, "start the local cluster in .opsdb/ (create it the first time), apply everything, print its URL"),
    "down": (cmd_down, "stop the local cluster"),
    "migrate": (cmd_migrate, "apply versioned files, then changed re-applied files"),
    "status": (
        cmd_status,
        "applied, pending, changed, unscheduled and waiting files, orphans, the last and the last known-good deployment",
    ),
    "deployments": (cmd_deployments, "list the recorded deployments, newest first, with their restore points"),
    "verify": (cmd_verify, "exit non-zero on drift (an applied versioned file edited or removed) or an orphan"),
    "lint": (cmd_lint, "squawk over new migrations, sqlfluff over db/, plpgsql_check when --database-url is given"),
    "demo": (cmd_demo, "an end-to-end scenario on the local cluster"),
    "schema": (cmd_schema, "write db/schema.sql, the normalised dump of public and private (--check: compare only)"),
    "drill": (cmd_drill, "restore drill: dump, restore into a new database, compare every table and the schema"),
    "export": (cmd_export, "write a Supabase CLI supabase/migrations/ folder (--supabase DIR)"),
    "audit": (cmd_audit, "the security audit and readiness report of a live database (non-zero when a check fails)"),
    "metrics": (cmd_metrics, "the monitoring signals in the Prometheus text format (--serve PORT: serve /metrics)"),
    "console": (cmd_console, "the on-call web console on 127.0.0.1, acting as the platform admin named by --as"),
}


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("opsdb")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _common(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the command name (``opsdb --debug migrate``, ``opsdb migrate --debug``)."""
    common = argparse.ArgumentParser(add_help=False)
    # Below the command, SUPPRESS keeps an option given before it from being reset to the default.
    default: object = None if defaults else argparse.SUPPRESS
    common.add_argument(
        "--debug", action="store_true", default=False if defaults else argparse.SUPPRESS,
        help="on failure, print the traceback as well as the one-line reason",
    )
    common.add_argument(
        "--connect-timeout", type=int, metavar="SECONDS", default=default,
        help=f"give up connecting after this many seconds (default: $PGCONNECT_TIMEOUT, else "
        f"{cli_target.DEFAULT_CONNECT_TIMEOUT})",
    )
    return common


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="opsdb", description="opsdb: the operations database, its runner and tools", parents=[_common(True)]
    )
    root.add_argument("--version", action="version", version=f"opsdb {_version()}")
    sub = root.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text, parents=[_common(False)])
        if name in NO_DATABASE:
            # Accepted only to refuse it with a reason (main), instead of argparse's bare "unrecognized".
            cmd.add_argument("--database-url", help=argparse.SUPPRESS)
        else:
            cmd.add_argument(
                "--database-url",
                help="target database: a postgresql:// URL or libpq key=value string (default: $DATABASE_URL, "
                "then libpq's PGHOST/PGPORT/PGDATABASE/PGUSER/PGSERVICE, else the local cluster)",
            )
        if name == "demo":
            cmd.add_argument(
                "--allow-other-database", action="store_true",
                help="run on a database that is not the local cluster (it writes demo data and made-up secrets there)",
            )
        if name == "migrate":
            cmd.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
            cmd.add_argument("--backup", metavar="FILE", help="first pg_dump -Fc the database to FILE (mode 0600)")
        if name == "lint":
            cmd.add_argument(
                "--accept", action="store_true", help="record the new migrations as landed (only when they lint clean)"
            )
        if name == "export":
            cmd.add_argument("--supabase", metavar="DIR", required=True, help="write DIR/supabase/migrations/")
        if name == "deployments":
            cmd.add_argument("--limit", type=int, default=20, help="how many, newest first (default 20)")
        if name == "schema":
            cmd.add_argument("--check", action="store_true", help="exit non-zero when db/schema.sql is stale")
        if name == "drill":
            cmd.add_argument("--keep-dump", help="keep the dump (the restore point) at this path")
            cmd.add_argument("--keep-database", action="store_true", help="keep the restored copy")
        if name == "audit":
            cmd.add_argument("--output", help="write the report to this file instead of printing it")
            cmd.add_argument(
                "--format",
                choices=("markdown", "json"),
                default="markdown",
                help="markdown (default) or json for CI; exit 0 ready, 1 not ready, 2 bad usage, 3 could not run",
            )
        if name == "metrics":
            cmd.add_argument("--serve", type=int, metavar="PORT", help="serve /metrics on this port (0: any free port)")
            cmd.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
        if name == "console":
            cmd.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the platform admin to act as")
            cmd.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    return root


def _prepare(args: argparse.Namespace) -> None:
    """Refuse what a command would ignore; resolve, check and print the target of the others."""
    if args.command in NO_DATABASE:
        if args.database_url is not None:
            raise UsageError(
                f"--database-url is not used by `opsdb {args.command}` ({NO_DATABASE[args.command]}); "
                "to migrate another server use "
                "`opsdb migrate --database-url URL`"
            )
        return
    if args.command == "demo":
        _demo_target(args)
        return
    if args.command == "lint" and args.database_url is None:
        return  # lint reads db/ only, unless given a database to run plpgsql_check in
    target = cli_target.resolve(args.database_url)
    _note(f"opsdb {args.command}: target {target.description} (from {target.source})")
    args.database_url = target.url


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler = COMMANDS[args.command][0]
    # libpq and psycopg read PGCONNECT_TIMEOUT, and so do pg_dump and pg_restore started from here.
    saved = os.environ.get("PGCONNECT_TIMEOUT")
    os.environ["PGCONNECT_TIMEOUT"] = str(cli_target.connect_timeout(args.connect_timeout))
    try:
        _prepare(args)
        return handler(args)
    except KeyboardInterrupt:
        print("opsdb: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure ends as one line; --debug adds the traceback
        if args.debug:
            traceback.print_exc()
        reason = " ".join(str(exc).split()) or type(exc).__name__
        print(f"opsdb {args.command}: {reason}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    finally:
        if saved is None:
            os.environ.pop("PGCONNECT_TIMEOUT", None)
        else:
            os.environ["PGCONNECT_TIMEOUT"] = saved


if __name__ == "__main__":
    sys.exit(main())
