"""`opsdb lint`: the project's SQL is clean, and the destructive-migration guard bites."""

from __future__ import annotations

import subprocess
import sys

from harness import project
from harness.lint import destructive_findings
from tests.foundation.conftest import ScratchProject


def test_destructive_change_without_marker_is_reported(scratch: ScratchProject) -> None:
    scratch.write(
        "migrations/20260101000000_drop_things.sql",
        "-- dropping the old table\nalter table public.a drop column b;\n\ndrop table public.things;\n",
    )
    findings = destructive_findings(scratch.db)
    assert [(f.line, f.message.split(" (")[1].split(")")[0]) for f in findings] == [
        (2, "drop column"),
        (4, "drop table"),
    ]


def test_marker_with_reason_allows_it_and_comments_or_strings_never_trigger(scratch: ScratchProject) -> None:
    scratch.write(
        "migrations/20260101000000_drop_things.sql",
        "-- opsdb:destructive things was replaced by stuff in 20251201\ndrop table public.things;\n",
    )
    scratch.write(
        "migrations/20260102000000_comment.sql",
        "-- we never drop table x here\ncomment on table public.a is 'do not truncate';\n",
    )
    assert destructive_findings(scratch.db) == []


def test_marker_without_reason_does_not_count(scratch: ScratchProject) -> None:
    scratch.write("migrations/20260101000000_drop_things.sql", "-- opsdb:destructive\ndrop table public.things;\n")
    assert len(destructive_findings(scratch.db)) == 1


def test_the_project_lints_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "lint"], capture_output=True, text=True, cwd=project.root(), timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
