"""``opsdb demo``: the end-to-end scenario, on the local cluster unless told otherwise."""

from __future__ import annotations

import argparse
import os

from harness import project
from harness.cli import target as cli_target
from harness.cli.command import Command, UsageError, note, out
from harness.cli.commands.cluster import up


def demo(args: argparse.Namespace) -> int:
    from harness.demo import run

    if args.database_url is None:
        up(args)
        target = cli_target.resolve(project.local_cluster().url())
        note(f"opsdb demo: target {target.description} (the local cluster in .opsdb/)")
        args.database_url = target.url
    run(args.database_url, out=out)
    return 0


def demo_target(args: argparse.Namespace) -> None:
    """The demo writes workspaces, users and made-up Vault secrets: the local cluster only, unless told.

    Only an explicit target counts (--database-url, DATABASE_URL): the PG*
    variables a DBA keeps for psql do not move the demo off the local cluster.
    """
    if not (args.database_url or os.environ.get("DATABASE_URL")):
        return  # demo() starts the local cluster
    target = cli_target.resolve(args.database_url)
    note(f"opsdb demo: target {target.description} (from {target.source})")
    if not cli_target.is_local_cluster(target.url) and not args.allow_other_database:
        raise UsageError(
            f"{target.description} (from {target.source}) is not the local cluster, and the demo writes demo "
            "workspaces, users and made-up Vault signing secrets into the database it runs on: run it on the "
            "local cluster (unset DATABASE_URL, no --database-url), or pass --allow-other-database to write them there"
        )
    args.database_url = target.url


def demo_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--allow-other-database", action="store_true",
        help="run on a database that is not the local cluster (it writes demo data and made-up secrets there)",
    )


DEMO = Command(
    "demo", demo, "an end-to-end scenario on the local cluster", options=demo_options, prepare=demo_target
)
