"""`opsdb lint`: the project's SQL and Python are clean (squawk's rules per migration are in tests/deploy/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness import project
from harness.deploy.lint import mypy_errors


def test_the_project_lints_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint"], capture_output=True, text=True, cwd=project.root(), timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_fails_on_each_mypy_error_in_a_checkout(tmp_path: Path) -> None:
    assert mypy_errors(tmp_path) == []  # no [tool.mypy]: nothing to check
    (tmp_path / "pyproject.toml").write_text('[tool.mypy]\nfiles = ["typed.py"]\n')
    (tmp_path / "typed.py").write_text('def half(n: int) -> int:\n    return n // 2\n\n\nhalf("two")\n')

    [error] = mypy_errors(tmp_path)

    assert error.startswith("typed.py:5: error: Argument 1 to \"half\" has incompatible type \"str\"")
