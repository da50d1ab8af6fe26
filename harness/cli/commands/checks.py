"""``opsdb lint``, ``schema``, ``audit``, ``drill``: checks that fail a build or a launch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import project
from harness.cli.command import Command, out


def lint(args: argparse.Namespace) -> int:
    from harness.deploy import squawk
    from harness.deploy.lint import lint

    if args.accept:
        accepted = squawk.accept(project.root())
        for name in accepted:
            out(f"accepted {name}")
        out(f"{len(accepted)} migration(s) recorded as landed in {squawk.CONFIG}")
        return 0
    url = project.resolve_database_url(args.database_url) if args.database_url else None
    problems = lint(project.root(), out=out, database_url=url)
    if problems:
        raise RuntimeError(f"{problems} lint problem(s)")
    out("lint clean")
    return 0


def lint_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--accept", action="store_true", help="record the new migrations as landed (only when they lint clean)"
    )


def schema(args: argparse.Namespace) -> int:
    from harness import schema_dump

    target = project.db_dir() / "schema.sql"
    url = project.resolve_database_url(args.database_url)
    if args.check:
        if schema_dump.dump(url) != (target.read_text() if target.exists() else ""):
            raise RuntimeError("db/schema.sql is stale: run `make schema` and commit it")
        out("db/schema.sql is up to date")
        return 0
    changed = schema_dump.write(url, target)
    out(f"{'wrote' if changed else 'unchanged'} {target.relative_to(project.root())}")
    return 0


def schema_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--check", action="store_true", help="exit non-zero when db/schema.sql is stale")


def audit(args: argparse.Namespace) -> int:
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
        out(f"wrote {args.output}: {report.verdict}")
    else:
        out(text.rstrip())
    if known_good is not None and args.format != "json":
        out(f"deployment #{known_good} marked known-good")
    if report.failed:
        names = ", ".join(r.check.name for r in report.failed)
        raise RuntimeError(f"{report.verdict}: {len(report.failed)} check(s) failed: {names}")
    return 0


def audit_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--output", help="write the report to this file instead of printing it")
    cmd.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="markdown (default) or json for CI; exit 0 ready, 1 not ready, 2 bad usage, 3 could not run",
    )


def drill(args: argparse.Namespace) -> int:
    from harness.deploy.restore_drill import run_drill

    report = run_drill(
        project.resolve_database_url(args.database_url),
        keep_dump=Path(args.keep_dump) if args.keep_dump else None,
        keep_database=args.keep_database,
        out=out,
    )
    for problem in report.problems:
        out(f"DIFFERENT  {problem}")
    if not report.ok:
        raise RuntimeError(f"restore drill failed: {len(report.problems)} difference(s), first: {report.problems[0]}")
    total = report.seconds["dump"] + report.seconds["restore"]
    out(f"restore drill passed: {len(report.tables)} tables identical; dump + restore took {total:.1f} s")
    return 0


def drill_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--keep-dump", help="keep the dump (the restore point) at this path")
    cmd.add_argument("--keep-database", action="store_true", help="keep the restored copy")


LINT = Command(
    "lint",
    lint,
    "squawk over new migrations, sqlfluff over db/, plpgsql_check when --database-url is given",
    options=lint_options,
    database_optional=True,  # it reads db/ only, unless given a database to run plpgsql_check in
)
SCHEMA = Command(
    "schema",
    schema,
    "write db/schema.sql, the normalised dump of public and private (--check: compare only)",
    options=schema_options,
)
DRILL = Command(
    "drill",
    drill,
    "restore drill: dump, restore into a new database, compare every table and the schema",
    options=drill_options,
)
AUDIT = Command(
    "audit",
    audit,
    "the security audit and readiness report of a live database (non-zero when a check fails)",
    options=audit_options,
)
