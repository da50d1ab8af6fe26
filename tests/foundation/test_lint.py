"""`opsdb lint`: the project's SQL is clean (squawk's rules per migration are in tests/deploy/)."""

from __future__ import annotations

import subprocess
import sys

from harness import project


def test_the_project_lints_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint"], capture_output=True, text=True, cwd=project.root(), timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
