"""``opsdb migrate``, ``status``, ``deployments``, ``verify``: applying db/ and knowing where a database stands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import project
from harness.cli.command import Command, out
from harness.migrate import status as migration_status
from harness.provision import provision


def migrate(args: argparse.Namespace) -> int:
    url = project.resolve_database_url(args.database_url)
    backup = Path(args.backup) if args.backup else None
    provision(url, project.db_dir(), dry_run=args.dry_run, backup=backup, out=out)
    return 0


def migrate_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    cmd.add_argument("--backup", metavar="FILE", help="first pg_dump -Fc the database to FILE (mode 0600)")


def status(args: argparse.Namespace) -> int:
    from harness.deploy import status as deploy_status

    plan = migration_status(project.resolve_database_url(args.database_url), project.db_dir())
    for name in plan.applied:
        out(f"applied  {name}")
    for f in plan.to_apply:
        out(f"{plan.label(f)}  {f.name}")
    for f in plan.waiting:
        out(f"waiting  {f.name} (needs pg_cron in this database)")
    for item in plan.drift:
        out(f"DRIFT    {item}")
    waiting = f", {len(plan.waiting)} waiting for pg_cron" if plan.waiting else ""
    out(f"{len(plan.applied)} applied, {len(plan.to_apply)} to apply{waiting}, {len(plan.drift)} drifted")
    for line in deploy_status.status_lines(project.resolve_database_url(args.database_url), project.db_dir()):
        out(line)
    return 0


def deployments(args: argparse.Namespace) -> int:
    import psycopg

    from harness.deploy.deployments import records

    with psycopg.connect(project.resolve_database_url(args.database_url), autocommit=True) as conn:
        found = records(conn, limit=args.limit)
    for record in found:
        out(record.line())
    out(f"{len(found)} deployment(s) shown" if found else "no deployment recorded yet")
    return 0


def deployments_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--limit", type=int, default=20, help="how many, newest first (default 20)")


def verify(args: argparse.Namespace) -> int:
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
    out(f"no drift: {len(plan.applied)} applied files match their checksums; no orphans")
    return 0


MIGRATE = Command("migrate", migrate, "apply versioned files, then changed re-applied files", options=migrate_options)
STATUS = Command(
    "status",
    status,
    "applied, pending, changed, unscheduled and waiting files, orphans, the last and the last known-good deployment",
)
DEPLOYMENTS = Command(
    "deployments",
    deployments,
    "list the recorded deployments, newest first, with their restore points",
    options=deployments_options,
)
VERIFY = Command(
    "verify", verify, "exit non-zero on drift (an applied versioned file edited or removed) or an orphan"
)
