"""What every command is made of, and how it speaks: stdout for its output, stderr for where it goes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass


class UsageError(RuntimeError):
    """A command line that cannot mean what it says; exits 2."""


@dataclass(frozen=True)
class Command:
    """One ``opsdb`` command: one operation of the harness."""

    name: str
    run: Callable[[argparse.Namespace], int]
    help: str
    # Adds the command's own options (after --database-url).
    options: Callable[[argparse.ArgumentParser], None] | None = None
    # Why the command never connects to a database; it then refuses --database-url.
    no_database: str = ""
    # The command reads files unless given --database-url (no target resolved without it).
    database_optional: bool = False
    # Resolves and checks the target itself instead of the usual resolution.
    prepare: Callable[[argparse.Namespace], None] | None = None


def out(line: str) -> None:
    print(line, flush=True)


def note(line: str) -> None:
    """Where a command goes and what it is doing: stderr, so stdout stays the command's output."""
    print(line, file=sys.stderr, flush=True)
