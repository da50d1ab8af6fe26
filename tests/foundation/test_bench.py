"""The bench registry and runner: every scenario is sound and runs against the migrated schema.

Nothing here is timed: pgbench runs a fixed number of transactions to prove each
script and its setup work; one short timed run only has to report a positive TPS.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_postgresql.executors import NoopExecutor

from bench import pgbench, registry, report
from bench.registry import Registered
from bench.runner import Target, combine, measure, run_plan
from bench.scenario import Scenario
from harness import project

REGISTERED = registry.discover()
BASELINES = ("insert_unique_key", "update_hot_row", "update_spread")


@pytest.fixture
def target(opsdb_server: NoopExecutor) -> Target:
    """The test server, with each run cloned from the session's migrated template."""
    return Target(
        conn=pgbench.Connection(
            host=opsdb_server.host, port=opsdb_server.port, user=opsdb_server.user, password=opsdb_server.password
        ),
        template=opsdb_server.template_dbname,
        maintenance_db=opsdb_server.maintenance_dbname,
    )


def test_the_three_baselines_run_with_1_and_8_clients() -> None:
    baselines = {r.scenario.name: r.scenario for r in REGISTERED if r.scenario.is_baseline}
    assert set(BASELINES) <= set(baselines)
    assert all(baselines[name].clients == (1, 8) for name in BASELINES)
    assert all(r.module == "baselines" for r in REGISTERED if r.scenario.name in BASELINES)


def test_every_scenario_names_a_registered_baseline() -> None:
    baselines = {r.scenario.name for r in REGISTERED if r.scenario.is_baseline}
    others = [r.scenario for r in REGISTERED if not r.scenario.is_baseline]
    assert others, "the worked examples in bench/scenarios/request_overhead.py are registered"
    assert all(s.baseline in baselines for s in others)
    assert registry.check(REGISTERED) == []


def test_registry_rejects_unknown_baselines_duplicates_and_bad_scripts() -> None:
    base = Scenario(name="base", script="select 1;\n", baseline=None)
    bad = [
        Registered("a", base),
        Registered("b", Scenario(name="base", script="select 1;\n", baseline=None)),
        Registered("b", Scenario(name="orphan", script="select 1;\n", baseline="nope")),
        Registered("b", Scenario(name="chained", script="select 1;\n", baseline="orphan")),
        Registered("b", Scenario(name="Bad-Name", script=" \n", baseline="base", clients=())),
        Registered("b", Scenario(name="piped", script="\\startpipeline\nselect 1;\n\\endpipeline\n", baseline="base")),
        Registered("b", Scenario(name="lost", script=Path("/nonexistent/x.sql"), baseline="base")),
        Registered("b", Scenario(name="smoked", script="select :n;\n", baseline="base", variables={"n": 10**6},
                                 smoke_variables={"m": 10})),
    ]
    problems = "\n".join(registry.check(bad))
    for expected in (
        "name already used in bench/scenarios/a.py",
        "unknown baseline 'nope'",
        "'orphan' is not a baseline",
        "is not [a-z][a-z0-9_]*",
        "script is empty",
        "must be distinct positive counts",
        "\\startpipeline needs protocol",
        "does not exist",
        "smoke_variables must define the same names as variables",
    ):
        assert expected in problems


def test_the_suite_runs_a_volume_scenario_smaller_and_the_bench_at_full_size() -> None:
    full = Scenario(name="big", script="select :n;\n", baseline="base", setup="select 'big';",
                    variables={"n": 10**6}, smoke_setup="select 'small';", smoke_variables={"n": 10})
    assert (full.for_smoke_test().setup, full.for_smoke_test().variables) == ("select 'small';", {"n": 10})
    assert (full.setup, full.variables) == ("select 'big';", {"n": 10**6})
    plain = Scenario(name="plain", script="select 1;\n", baseline="base", setup="select 1;")
    assert plain.for_smoke_test() == plain
    console = {r.scenario.name: r.scenario for r in REGISTERED if r.module == "console"}
    assert console and all(s.smoke_setup and s.smoke_setup != s.setup for s in console.values())


def test_only_runs_the_selection_each_paired_with_its_baseline() -> None:
    runs = registry.plan(REGISTERED, ["service_role_*"])
    assert [(r.scenario.name, r.clients) for r in runs] == [("service_role_insert", 8)]
    assert runs[0].baseline_scenario is not None and runs[0].baseline_scenario.name == "insert_unique_key"
    with pytest.raises(registry.RegistryError, match="matches no scenario"):
        registry.plan(REGISTERED, ["no_such_*"])


def test_default_plan_runs_baselines_alone_first_then_every_scenario_paired() -> None:
    runs = registry.plan(REGISTERED)
    first_other = next(i for i, r in enumerate(runs) if not r.scenario.is_baseline)
    assert all(r.scenario.is_baseline and r.baseline_scenario is None for r in runs[:first_other])
    assert all(
        r.baseline_scenario is not None and r.baseline_scenario.name == r.scenario.baseline for r in runs[first_other:]
    )
    expected = [(r.scenario.name, c) for r in REGISTERED for c in r.scenario.clients]
    assert sorted((r.scenario.name, r.clients) for r in runs) == sorted(expected)


@pytest.mark.parametrize("item", REGISTERED, ids=[r.scenario.name for r in REGISTERED])
def test_every_scenario_script_runs_after_its_setup(item: Registered, target: Target, tmp_path: Path) -> None:
    # A fixed transaction count, not a duration: this proves the setup and the
    # script (variables, session settings, protocol) work, and times nothing. A
    # scenario that loads volume runs its smoke setup, the same shape smaller.
    clients = min(item.scenario.clients)
    result = measure(target, item.scenario.for_smoke_test(), clients, tmp_path, transactions=3)
    assert result.transactions == 3 * clients
    assert result.failed == 0


def test_a_failing_script_is_reported_with_pgbench_output(target: Target, tmp_path: Path) -> None:
    broken = Scenario(name="broken", script="select * from bench.no_such_table;\n", baseline=None)
    with pytest.raises(pgbench.PgbenchError, match="no_such_table"):
        measure(target, broken, 1, tmp_path, transactions=1)


def test_a_failing_run_is_recorded_and_the_others_still_run(target: Target, tmp_path: Path) -> None:
    broken = Scenario(name="broken", script="select 1;\n", baseline=None, clients=(1,), setup="select 1/0;")
    fine = Scenario(name="fine", script="select 1;\n", baseline=None, clients=(1,))
    plan = registry.plan([Registered("test", broken), Registered("test", fine)])
    lines: list[str] = []
    measured = run_plan(target, plan, tmp_path, seconds=1, out=lines.append)
    assert measured[0].error is not None and "division by zero" in measured[0].error
    assert measured[1].error is None and measured[1].tps > 0
    assert any(line.strip().startswith("FAILED: division by zero") for line in lines)
    assert "FAILED: broken at 1 clients" in report.table(measured)


def test_runner_end_to_end_reports_positive_tps_and_writes_json(target: Target, tmp_path: Path) -> None:
    tiny_base = Scenario(name="tiny_base", script="select 1;\n", baseline=None, clients=(1,))
    tiny = Scenario(name="tiny", script="select 2;\n", baseline="tiny_base", clients=(1,), target_ratio=0.01)
    registered = [Registered("test", tiny_base), Registered("test", tiny)]
    measured = run_plan(target, registry.plan(registered), tmp_path, seconds=1, out=lambda _line: None)
    assert [m.scenario for m in measured] == ["tiny_base", "tiny"]
    assert all(m.tps > 0 for m in measured)
    assert measured[0].ratio is None
    assert measured[1].baseline_tps is not None and measured[1].baseline_tps > 0
    assert measured[1].ratio is not None and measured[1].ratio > 0
    assert "of tiny_base" in report.table(measured)

    now = datetime.now(UTC)
    data = report.payload(measured, started_at=now, finished_at=now, seconds=1, server={})
    written = report.write(data, tmp_path / "results", now)
    latest = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert json.loads(written.read_text()) == latest
    assert [r["scenario"] for r in latest["results"]] == ["tiny_base", "tiny"]
    again = report.write(data, tmp_path / "results", now)
    assert again != written and again.exists() and written.exists()


def test_paired_slices_combine_to_mean_tps_and_weighted_latency() -> None:
    slices = [
        pgbench.PgbenchResult(tps=100.0, latency_ms=1.0, transactions=200, failed=0, threads=1),
        pgbench.PgbenchResult(tps=300.0, latency_ms=3.0, transactions=600, failed=2, threads=1),
    ]
    combined = combine(slices)
    assert (combined.tps, combined.latency_ms, combined.transactions, combined.failed) == (200.0, 2.5, 800, 2)


def test_pgbench_summary_is_parsed() -> None:
    stdout = (
        "transaction type: x.sql\nscaling factor: 1\nquery mode: simple\nnumber of clients: 8\n"
        "number of threads: 2\nmaximum number of tries: 1\nduration: 10 s\n"
        "number of transactions actually processed: 190512\n"
        "number of failed transactions: 3 (0.002%)\n"
        "latency average = 0.419 ms\ninitial connection time = 12.345 ms\n"
        "tps = 19072.123456 (without initial connection time)\n"
    )
    result = pgbench.parse_summary(stdout, threads=2)
    assert (result.tps, result.latency_ms, result.transactions, result.failed) == (19072.123456, 0.419, 190512, 3)
    with pytest.raises(pgbench.PgbenchError, match="no summary"):
        pgbench.parse_summary("pgbench: error: connection refused\n", threads=1)


def test_session_settings_are_escaped_for_libpq() -> None:
    assert pgbench.pgoptions({"role": "service_role", "app.note": "a b\\c"}) == (
        "-c role=service_role -c app.note=a\\ b\\\\c"
    )


def test_a_terminated_bench_stops_and_deletes_its_cluster(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "--only", "update_spread", "--seconds", "1", "--results-dir", str(tmp_path)],
        cwd=project.root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    line = ""
    for line in process.stdout:
        if line.startswith("cluster:"):
            break
    match = re.search(r"127\.0\.0\.1:(\d+) .*, (/\S+)\)$", line.strip())
    assert match, line
    port, base = int(match.group(1)), Path(match.group(2))
    assert base.exists()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode != 0
    assert not base.exists()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
