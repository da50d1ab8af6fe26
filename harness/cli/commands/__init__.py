"""Every ``opsdb`` command, in the order ``opsdb --help`` lists them, grouped by what they act on."""

from __future__ import annotations

from harness.cli.command import Command
from harness.cli.commands import checks, cluster, demo, migrations, tools

ALL: tuple[Command, ...] = (
    cluster.UP,
    cluster.DOWN,
    migrations.MIGRATE,
    migrations.STATUS,
    migrations.DEPLOYMENTS,
    migrations.VERIFY,
    checks.LINT,
    demo.DEMO,
    checks.SCHEMA,
    checks.DRILL,
    tools.EXPORT,
    checks.AUDIT,
    tools.METRICS,
    tools.CONSOLE,
)
