"""The CLI outside the happy path: where it goes, what it refuses, how it fails, what it prints while it works."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import psycopg
import pytest

from harness import project
from harness.cli import target as cli_target
from harness.cli import COMMANDS, NO_DATABASE, main
from harness.progress import heartbeat
from harness.deploy.restore_drill import run_drill
from tests.support.scratch import ScratchProject


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real console script in a process of its own, without the suite's DATABASE_URL or PG* variables."""
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("PG")}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True, text=True, env={**base, **(env or {})}, timeout=timeout,
    )


def _with_password(url: str, password: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@", 1)


def test_version_names_the_installed_release() -> None:
    result = _cli("--version")

    assert result.returncode == 0
    assert result.stdout.strip() == f"opsdb {metadata.version('opsdb')}"


@pytest.mark.parametrize("command", ["status", "verify", "audit", "schema", "migrate", "drill"])
def test_every_command_that_touches_a_database_prints_its_target_first_without_the_password(
    command: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    info = psycopg.conninfo.conninfo_to_dict(db_url)
    args = [command, "--database-url", _with_password(db_url, "s3cret-pw")]
    args += {"schema": ["--check"], "migrate": ["--dry-run"]}.get(command, [])

    main(args)

    out, err = capsys.readouterr()
    assert err.splitlines()[0] == (
        f"opsdb {command}: target postgres@{info['host']}:{info['port']}/{info['dbname']} (from --database-url)"
    )
    assert "s3cret-pw" not in out + err


def test_libpq_variables_name_the_target_when_no_url_is_given(db_url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(db_url)
    env = {name: str(info[key]) for name, key in (("PGHOST", "host"), ("PGPORT", "port"), ("PGDATABASE", "dbname"))}
    env["PGUSER"] = "postgres"

    result = _cli("status", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"opsdb status: target postgres@{info['host']}:{info['port']}/{info['dbname']}"
        " (from libpq variables PGHOST, PGPORT, PGDATABASE, PGUSER)"
    )
    assert any(line.endswith(" drifted") for line in result.stdout.splitlines())


def test_a_url_leaves_what_it_omits_to_the_libpq_variables(db_url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(db_url)

    result = _cli("status", "--database-url", f"postgresql://{info['host']}:{info['port']}/{info['dbname']}",
                  env={"PGUSER": "postgres"})

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith(f"opsdb status: target postgres@{info['host']}:")


@pytest.mark.parametrize("command", NO_DATABASE)
def test_commands_that_ignore_database_url_refuse_it(command: str, tmp_path: Path) -> None:
    required = ["--supabase", str(tmp_path)] if command == "export" else []
    result = _cli(command, *required, "--database-url", "postgresql://postgres@127.0.0.1:1/x")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"opsdb {command}: --database-url is not used by `opsdb {command}` "
        f"({NO_DATABASE[command]}); to migrate another server use `opsdb migrate --database-url URL`"
    ]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("localhost:5432/opsdb", "it is neither a postgresql:// URL nor key=value pairs"),
        ("postgresql://admin:p@ss@db.internal:5432/app", "the host part contains '@'"),
        ("postgresql://db.internal:54x2/app", "the port '54x2' is not a number from 1 to 65535"),
        ("mysql://root:pw@db.internal/app", "the database URL starts with mysql://, not postgresql://"),
        ("host=db.internal port=99999", "the port '99999' is not a number from 1 to 65535"),
    ],
)
def test_a_malformed_url_gets_a_message_a_dba_understands(url: str, says: str) -> None:
    result = _cli("status", "--database-url", url)

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("opsdb status: ") and says in line
    assert "expected postgresql://user:password@host:5432/database" in line
    assert "p@ss" not in line and ":pw@" not in line


def test_debug_adds_the_traceback_to_the_one_line_reason() -> None:
    plain = _cli("status", "--database-url", "localhost:5432/opsdb")
    debug = _cli("--debug", "status", "--database-url", "localhost:5432/opsdb")
    after = _cli("status", "--debug", "--database-url", "localhost:5432/opsdb")

    assert "Traceback" not in plain.stderr
    for result in (debug, after):
        assert result.returncode == 1
        assert result.stderr.startswith("Traceback (most recent call last):")
        assert result.stderr.strip().splitlines()[-1] == plain.stderr.strip()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung server, a black-holing proxy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    accepted.append(server.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield server.getsockname()[1]
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()


def test_a_server_that_never_answers_times_out_with_a_reason(silent_server: int) -> None:
    url = f"postgresql://postgres@127.0.0.1:{silent_server}/opsdb"

    # The subprocess timeout only guards the suite against the old hang; the CLI gives up after 2 s.
    result = _cli("status", "--connect-timeout", "2", "--database-url", url, timeout=90)

    assert result.returncode == 1
    target = f"opsdb status: target postgres@127.0.0.1:{silent_server}/opsdb (from --database-url)"
    assert result.stderr.splitlines()[0] == target
    assert "timeout" in result.stderr.splitlines()[-1]


def test_the_connect_timeout_defaults_to_pgconnect_timeout_then_ten_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    assert cli_target.connect_timeout(None) == 10
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "25")
    assert cli_target.connect_timeout(None) == 25
    assert cli_target.connect_timeout(3) == 3


def test_status_calls_a_reapplied_file_never_applied_pending_not_changed(
    scratch: ScratchProject, empty_database_url: str
) -> None:
    scratch.write("migrations/20260101000000_create_things.sql", "create table public.things (id int);\n")
    scratch.write("functions/old.sql", "select 1;\n")
    assert scratch.opsdb("migrate", database_url=empty_database_url).returncode == 0
    scratch.write("functions/new.sql", "select 2;\n")
    scratch.write("functions/old.sql", "select 3;\n")

    result = scratch.opsdb("status", database_url=empty_database_url)

    assert "pending  functions/new.sql" in result.stdout.splitlines()
    assert "changed  functions/old.sql" in result.stdout.splitlines()


def _local_state(root: Path, port: int) -> None:
    (root / ".opsdb").mkdir(parents=True)
    state = {"pg_home": str(root / ".opsdb" / "pg"), "port": port, "os_user": None, "settings": {}}
    (root / ".opsdb" / "cluster.json").write_text(json.dumps(state))
    (root / "db" / "migrations").mkdir(parents=True)


def test_the_demo_refuses_a_database_that_is_not_the_local_cluster(
    db: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    before = db.execute("select count(*) from public.workspaces").fetchone()

    by_flag = _cli("demo", "--database-url", db_url, env={"OPSDB_ROOT": str(tmp_path)})
    by_env = _cli("demo", env={"OPSDB_ROOT": str(tmp_path), "DATABASE_URL": db_url})

    for result in (by_flag, by_env):
        assert result.returncode == 2
        reason = result.stderr.strip().splitlines()[-1]
        assert reason.startswith("opsdb demo: postgres@127.0.0.1:") and "is not the local cluster" in reason
        assert "--allow-other-database" in reason
    assert "(from DATABASE_URL)" in by_env.stderr
    assert db.execute("select count(*) from public.workspaces").fetchone() == before
    assert db.execute("select count(*) from vault.secrets").fetchone() == (0,)


def test_the_local_cluster_is_recognised_by_its_port_and_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _local_state(tmp_path, 54999)
    monkeypatch.setenv("OPSDB_ROOT", str(tmp_path))

    assert cli_target.is_local_cluster("postgresql://postgres@127.0.0.1:54999/opsdb")
    assert not cli_target.is_local_cluster("postgresql://postgres@127.0.0.1:54999/production")
    assert not cli_target.is_local_cluster("postgresql://postgres@db.internal:54999/opsdb")
    assert not cli_target.is_local_cluster("postgresql://postgres@127.0.0.1:5432/opsdb")


def test_a_wrong_opsdb_root_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSDB_ROOT", str(tmp_path))

    with pytest.raises(project.ProjectNotFound, match=r"OPSDB_ROOT is .*, but .*/db/migrations does not exist"):
        project.db_dir()


def test_a_long_step_keeps_saying_it_is_alive() -> None:
    lines: list[str] = []
    beat = threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        beat.set()

    with heartbeat(out, "dumping opsdb", every=0.01, detail=lambda: "3.0 MB written"):
        assert beat.wait(30)
    count = len(lines)

    assert re.fullmatch(r"  \.\.\. still dumping opsdb \(\d+ s, 3\.0 MB written\)", lines[0])
    assert len(lines) == count  # nothing after the step ended


def test_the_drill_says_each_step_as_it_starts_and_beats_while_one_runs(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSDB_PROGRESS_SECONDS", "0.05")
    lines: list[str] = []
    beat = threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        if "still comparing" in line:
            beat.set()

    # The restored copy's check waits until the heartbeat has spoken: a step longer than the interval.
    report = run_drill(db_url, out=out, after_restore=lambda _copy: beat.wait(30))

    assert report.ok, report.problems
    starts = [line[:3] for line in lines if re.match(r"\d/4 ", line)]
    assert starts == ["1/4", "2/4", "3/4", "4/4"]
    assert any(line.startswith("  ... still comparing (") for line in lines)
    assert lines.index(next(line for line in lines if line.startswith("4/4"))) < lines.index(
        next(line for line in lines if "still comparing" in line)
    )


def test_the_readme_calls_the_cli_one_way_and_names_every_command() -> None:
    readme = (project.root() / "README.md").read_text()

    calls = re.findall(r"(\S*)opsdb (" + "|".join(COMMANDS) + r")\b", readme)
    assert calls, "the README shows the CLI"
    assert {prefix.strip("`(") for prefix, _ in calls} == {".venv/bin/"}
    assert {command for _, command in calls} == set(COMMANDS)


def test_the_demo_ignores_libpq_variables_and_stays_on_the_local_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli import parser
    from harness.cli.commands.demo import demo_target

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PGHOST", "db.internal")
    args = parser().parse_args(["demo"])

    demo_target(args)  # no refusal: nothing explicit names another database

    assert args.database_url is None  # cmd_demo then starts and uses the local cluster
