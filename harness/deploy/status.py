"""What ``opsdb status`` and ``opsdb verify`` add to the file plan: orphans and deployments."""

from __future__ import annotations

from pathlib import Path

import psycopg

from harness.deploy import deployments, orphans


def find_orphans(database_url: str, db_dir: Path) -> list[orphans.Orphan]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return orphans.find(conn, db_dir)


def status_lines(database_url: str, db_dir: Path) -> list[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        found = orphans.find(conn, db_dir)
        lines = [f"ORPHAN   {orphan}" for orphan in found]
        lines.append(f"{len(found)} orphan(s): objects in public and private that no file defines")
        return lines + deployments.status_lines(conn)
