"""The demo's deployment step shows the record, its restore point and the known-good mark."""

from __future__ import annotations

import psycopg

from harness.audit.readiness import SIGNING_SECRETS
from harness.demo import DemoContext
from harness.demo.steps import s60_deployments
from harness.factories import Factories


def test_demo_shows_the_deployment_its_restore_point_and_known_good(db: psycopg.Connection, db_url: str) -> None:
    for name in SIGNING_SECRETS:
        db.execute("select vault.create_secret(%s, %s)", ("demo-" + name, name))
    lines: list[str] = []

    s60_deployments.run(DemoContext(url=db_url, conn=db, out=lines.append, factories=Factories(db)))

    text = "\n".join(lines)
    assert "deployment #1: succeeded, " in text
    assert "restore point #1 before it: WAL " in text
    assert "named point: opsdb_deploy_" in text and "restorable: yes" in text
    assert "deployment #1 marked known-good" in text
    assert "last known-good   #1 " in text
