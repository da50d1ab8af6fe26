"""Helpers for runner tests: a scratch project with its own db/ folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scratch import ScratchProject


@pytest.fixture
def scratch(tmp_path: Path) -> ScratchProject:
    return ScratchProject.empty(tmp_path / "project")
