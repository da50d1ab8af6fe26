"""Scratch projects: a db/ folder of their own (optionally a git checkout) run through the real ``opsdb``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ScratchProject:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "db"

    @classmethod
    def empty(cls, root: Path) -> ScratchProject:
        """A project at ``root`` with empty db/ folders."""
        scratch = cls(root)
        for folder in ("migrations", "functions", "policies", "cron"):
            (scratch.db / folder).mkdir(parents=True)
        return scratch

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


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()
