"""`opsdb export --supabase DIR`: plain psql applies the folder to the same schema as `opsdb migrate`."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from harness import compat, project, schema_dump
from harness.cli import main
from harness.export_supabase import GENERATED_NAME
from harness.migrate import NO_TRANSACTION, discover
from harness.pgbin import find_binaries


def _psql(url: str, path: Path) -> None:
    # As the Supabase CLI: each file in its own transaction, a no-transaction file statement by statement.
    single = [] if path.read_text().startswith(NO_TRANSACTION) else ["--single-transaction"]
    result = subprocess.run(
        [
            find_binaries().path("psql"),
            "--no-psqlrc",
            "--quiet",
            "-v",
            "ON_ERROR_STOP=1",
            *single,
            "-f",
            str(path),
            url,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{path.name}: {result.stderr}"


def test_the_exported_folder_applied_with_psql_builds_the_same_schema(
    db: psycopg.Connection, db_url: str, empty_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--supabase", str(tmp_path)]) == 0
    folder = tmp_path / "supabase" / "migrations"
    files = sorted(folder.iterdir())
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        compat.install(conn)

    for path in files:
        _psql(empty_database_url, path)

    assert schema_dump.dump(empty_database_url) == schema_dump.dump(db_url)
    versioned = [Path(f.name).name for f in discover(project.db_dir()) if f.kind == "versioned"]
    assert [p.name for p in files[:-1]] == versioned
    assert files[-1].name.endswith(f"_{GENERATED_NAME}.sql") and files[-1].name[:14] > versioned[-1][:14]
    assert f"to {folder}" in capsys.readouterr().out


def test_the_generated_migration_sorts_after_every_versioned_file(tmp_path: Path) -> None:
    from harness.export_supabase import export

    long_ago = datetime(2000, 1, 1, tzinfo=timezone.utc)
    written = export(project.db_dir(), tmp_path, now=long_ago, out=lambda _line: None)

    newest = datetime.strptime(max(p.name[:14] for p in written[:-1]), "%Y%m%d%H%M%S")
    assert written[-1].name[:14] == (newest + timedelta(seconds=1)).strftime("%Y%m%d%H%M%S")
    later = export(project.db_dir(), tmp_path, now=datetime(2100, 1, 1, tzinfo=timezone.utc), out=lambda _line: None)
    assert later[-1].name == f"21000101000000_{GENERATED_NAME}.sql"
