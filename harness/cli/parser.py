"""The ``opsdb`` argument parser, built from the commands (:mod:`harness.cli.commands`)."""

from __future__ import annotations

import argparse

from harness.cli import target as cli_target
from harness.cli.commands import ALL


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
    for command in ALL:
        cmd = sub.add_parser(command.name, help=command.help, description=command.help, parents=[_common(False)])
        if command.no_database:
            # Accepted only to refuse it with a reason (main), instead of argparse's bare "unrecognized".
            cmd.add_argument("--database-url", help=argparse.SUPPRESS)
        else:
            cmd.add_argument(
                "--database-url",
                help="target database: a postgresql:// URL or libpq key=value string (default: $DATABASE_URL, "
                "then libpq's PGHOST/PGPORT/PGDATABASE/PGUSER/PGSERVICE, else the local cluster)",
            )
        if command.options:
            command.options(cmd)
    return root
