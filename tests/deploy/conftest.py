"""Helpers for deploy-safety tests: scratch projects (optionally git checkouts) and a non-superuser deployer."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from harness import project
from tests.support.scratch import ScratchProject, git


@pytest.fixture
def scratch(tmp_path: Path) -> ScratchProject:
    """A project of its own with empty db/ folders and the project's squawk configuration."""
    scratch = ScratchProject.empty(tmp_path / "project")
    config = (project.root() / ".squawk.toml").read_text()
    # The rules as configured; no landed files (scratch migrations are all new).
    (scratch.root / ".squawk.toml").write_text(config[: config.index("excluded_paths")] + "excluded_paths = [\n]\n")
    return scratch


@pytest.fixture
def git_scratch(scratch: ScratchProject) -> ScratchProject:
    """The scratch project as a git checkout with one commit."""
    if shutil.which("git") is None:
        raise pytest.UsageError("these tests need git")
    git(scratch.root, "init", "-q")
    scratch.write(
        "functions/answer.sql", "create or replace function public.answer() returns int language sql as $$select 1$$;\n"
    )
    git(scratch.root, "add", "-A")
    git(scratch.root, "commit", "-q", "-m", "first")
    return scratch


@pytest.fixture
def deployer_url(empty_database_url: str) -> Iterator[str]:
    """The empty database, owned by a new login role that is not a superuser."""
    role = f"opsdb_deployer_{uuid.uuid4().hex[:8]}"
    params = conninfo.conninfo_to_dict(empty_database_url)
    dbname = str(params["dbname"])
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("alter database {} owner to {}").format(sql.Identifier(dbname), sql.Identifier(role))
        )
        conn.execute(sql.SQL("alter schema public owner to {}").format(sql.Identifier(role)))
    params["user"] = role
    yield conninfo.make_conninfo("", **params)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("reassign owned by {} to current_user").format(sql.Identifier(role)))
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
    # The role owned the database too: it is dropped by the fixture that created it, after ours.
    with psycopg.connect(empty_database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("alter database {} owner to current_user").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
