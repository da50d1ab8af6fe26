"""``opsdb``: the command line. Each command maps to one operation of the harness.

Every command that touches a database takes ``--database-url`` (default:
``$DATABASE_URL``, then libpq's ``PG*`` variables, else the local cluster; see
:mod:`harness.cli.target`), prints its target first (password hidden) and exits
non-zero with a one-line reason on failure (``--debug``: with the traceback).

The commands live in :mod:`harness.cli.commands`, grouped by what they act on;
:mod:`harness.cli.parser` builds the argument parser from them; this module runs one.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable

from harness.cli import target as cli_target
from harness.cli.command import Command, UsageError, note
from harness.cli.commands import ALL
from harness.cli.parser import parser

BY_NAME: dict[str, Command] = {command.name: command for command in ALL}
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {c.name: (c.run, c.help) for c in ALL}
# Commands that never connect to a database, and why (they refuse --database-url).
NO_DATABASE: dict[str, str] = {c.name: c.no_database for c in ALL if c.no_database}

__all__ = ["COMMANDS", "NO_DATABASE", "UsageError", "main", "parser"]


def _prepare(args: argparse.Namespace) -> None:
    """Refuse what a command would ignore; resolve, check and print the target of the others."""
    command = BY_NAME[args.command]
    if command.no_database:
        if args.database_url is not None:
            raise UsageError(
                f"--database-url is not used by `opsdb {args.command}` ({command.no_database}); "
                "to migrate another server use "
                "`opsdb migrate --database-url URL`"
            )
        return
    if command.prepare:
        command.prepare(args)
        return
    if command.database_optional and args.database_url is None:
        return
    target = cli_target.resolve(args.database_url)
    note(f"opsdb {args.command}: target {target.description} (from {target.source})")
    args.database_url = target.url


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler = BY_NAME[args.command].run
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
