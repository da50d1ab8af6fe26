"""Helpers for runner tests: a scratch project with its own db/ folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class ScratchProject:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "db"

    def write(self, rel: str, text: str) -> Path:
        path = self.db / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def opsdb(self, *args: str, database_url: str) -> subprocess.CompletedProcess[str]:
        """Run the real console script against this project."""
        env = {**os.environ, "OPSDB_ROOT": str(self.root)}
        env.pop("DATABASE_URL", None)
        return subprocess.run(
            [sys.executable, "-m", "harness.cli", *args, "--database-url", database_url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )


@pytest.fixture
def scratch(tmp_path: Path) -> ScratchProject:
    project = ScratchProject(tmp_path / "project")
    for folder in ("migrations", "functions", "policies", "cron"):
        (project.db / folder).mkdir(parents=True)
    return project
