"""``opsdb up`` and ``opsdb down``: the local cluster in .opsdb/."""

from __future__ import annotations

import argparse

from harness import project
from harness.cli import target as cli_target
from harness.cli.command import Command, note, out
from harness.provision import provision

LOCAL_ONLY = "it always manages the local cluster in .opsdb/"


def up(args: argparse.Namespace) -> int:
    cluster = project.local_cluster()
    fresh = cluster.load_state() is None
    cluster.start()
    url = cluster.ensure_database()
    note(f"opsdb up: target {cli_target.describe(url)} (the local cluster in .opsdb/)")
    out(f"{'created' if fresh else 'reused'} local cluster in {cluster.state.data_dir}")
    provision(url, project.db_dir(), out=out)
    out(url)
    return 0


def down(args: argparse.Namespace) -> int:
    stopped = project.local_cluster().stop()
    out("local cluster stopped" if stopped else "local cluster was not running")
    return 0


UP = Command(
    "up",
    up,
    "start the local cluster in .opsdb/ (create it the first time), apply everything, print its URL",
    no_database=LOCAL_ONLY,
)
DOWN = Command("down", down, "stop the local cluster", no_database=LOCAL_ONLY)
