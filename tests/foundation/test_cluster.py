"""The embedded cluster: created once, reused, stopped; clear errors when PostgreSQL is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from harness import pgbin
from harness.cluster import LocalCluster


def test_a_second_start_reuses_the_data(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "c", dbname="keepme", fast=True)
    try:
        cluster.start()
        url = cluster.ensure_database()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table kept (v text)")
            conn.execute("insert into kept values ('still here')")
            preload = conn.execute("select current_setting('shared_preload_libraries')").fetchone()
            cron_db = conn.execute("select current_setting('cron.database_name')").fetchone()
        assert preload == ("pg_cron",)
        assert cron_db == ("keepme",)
        assert cluster.stop() is True
        assert cluster.is_running() is False

        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            assert conn.execute("select v from kept").fetchall() == [("still here",)]
    finally:
        cluster.destroy()
    assert not (tmp_path / "c").exists()


def test_server_runs_as_an_unprivileged_os_user(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "c", fast=True)
    try:
        state = cluster.start()
        owner = (state.data_dir / "PG_VERSION").stat().st_uid
        if os.geteuid() == 0:
            assert state.os_user == "postgres"
            assert owner != 0
        else:
            assert state.os_user is None
            assert owner == os.geteuid()
    finally:
        cluster.destroy()


def test_opsdb_up_prints_the_url_and_down_stops(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "db" / "migrations").mkdir(parents=True)
    (root / "db" / "migrations" / "20260101000000_create_probe.sql").write_text("create table public.probe (id int);\n")
    env = {**os.environ, "OPSDB_ROOT": str(root)}
    env.pop("DATABASE_URL", None)

    def opsdb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness.cli", *args], env=env, capture_output=True, text=True, timeout=120)

    try:
        first = opsdb("up")
        assert first.returncode == 0, first.stderr
        url = first.stdout.strip().splitlines()[-1]
        assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/opsdb")
        assert "created local cluster" in first.stdout
        assert "applied versioned migrations/20260101000000_create_probe.sql" in first.stdout
        with psycopg.connect(url) as conn:
            assert conn.execute("select to_regclass('public.probe') is not null").fetchone() == (True,)

        second = opsdb("up")
        assert second.returncode == 0, second.stderr
        assert "reused local cluster" in second.stdout
        assert "nothing to apply" in second.stdout

        down = opsdb("down")
        assert down.returncode == 0 and "stopped" in down.stdout
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2)
        status = opsdb("status")
        assert status.returncode == 1
        assert "run `opsdb up`" in status.stderr
    finally:
        LocalCluster(root / ".opsdb").destroy()


def test_missing_binaries_error_lists_where_it_looked_and_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setattr(pgbin, "_candidates", lambda: [empty])

    with pytest.raises(pgbin.BinariesNotFound) as caught:
        pgbin.find_binaries()

    message = str(caught.value)
    assert str(empty) in message
    assert "apt-get install postgresql-15 postgresql-15-cron" in message
    assert "OPSDB_PG_BINDIR" in message


def test_missing_pg_cron_names_the_package(tmp_path: Path) -> None:
    binaries = pgbin.PgBinaries(bindir=tmp_path, major=15, pkglibdir=tmp_path)
    with pytest.raises(pgbin.BinariesNotFound, match=r"apt-get install postgresql-15-cron"):
        pgbin.require_pg_cron(binaries)
