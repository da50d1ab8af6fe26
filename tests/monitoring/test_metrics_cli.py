"""`opsdb metrics`: the same figures as public.monitoring_signals(), in the Prometheus
text format (parsed here with prometheus-client's own parser), printed or served."""

from __future__ import annotations

import select
import subprocess
import sys
import urllib.request
from pathlib import Path

import psycopg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from harness.cli import main
from harness.metrics import Signal, SignalsCollector


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _expected(db: psycopg.Connection) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    rows = db.execute("select signal, scope, last_5m, last_1h, last_24h from public.monitoring_signals()").fetchall()
    expected: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {("opsdb_up", ()): 1.0}
    for signal, scope, *counts in rows:
        for window, value in zip(("5m", "1h", "24h"), counts):
            labels = {"window": window, **({"provider": scope} if scope else {})}
            expected[(f"opsdb_{signal}", tuple(sorted(labels.items())))] = float(value)
    return expected


def _seed(db: psycopg.Connection) -> None:
    db.execute(
        "insert into public.webhook_queue (provider, event_type, idempotency_key, status, payload, signature_valid)"
        " values ('meta', 'meta.whatsapp', 'k1', 'dead_letter', '{}', true), ('twilio', null, 'k2', 'failed', '{}', true)"
    )
    db.execute("insert into public.external_api_audit_logs (reason) values ('revoked')")


def test_metrics_prints_every_signal_in_the_prometheus_text_format(
    db: psycopg.Connection, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(db)

    assert main(["metrics", "--database-url", db_url]) == 0

    samples = _samples(capsys.readouterr().out)
    assert samples == _expected(db)
    assert samples[("opsdb_webhook_dead_letter_backlog", (("provider", "whatsapp"), ("window", "24h")))] == 1
    assert samples[("opsdb_api_auth_failures", (("window", "5m"),))] == 1


def test_metrics_serve_answers_a_scrape_with_the_same_figures(db: psycopg.Connection, db_url: str) -> None:
    _seed(db)
    opsdb = str(Path(sys.executable).with_name("opsdb"))
    proc = subprocess.Popen(
        [opsdb, "metrics", "--database-url", db_url, "--serve", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "opsdb metrics --serve did not start"
        line = proc.stdout.readline().strip()
        assert line.startswith("serving the monitoring signals on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[-1]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            first = _samples(response.read().decode())
        db.execute("insert into public.external_api_audit_logs (reason) values ('expired')")
        with urllib.request.urlopen(url, timeout=30) as response:
            second = _samples(response.read().decode())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    expected = _expected(db)
    assert second == expected  # read afresh on every scrape
    assert first[("opsdb_api_auth_failures", (("window", "5m"),))] == 1
    assert second[("opsdb_api_auth_failures", (("window", "5m"),))] == 2


def test_a_database_that_cannot_be_read_is_opsdb_up_0_when_serving(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> list[Signal]:
        raise psycopg.OperationalError("connection refused")

    families = list(SignalsCollector(broken, print).collect())

    assert [(f.name, [s.value for s in f.samples]) for f in families] == [("opsdb_up", [0.0])]
    assert "cannot read the signals: connection refused" in capsys.readouterr().out


def test_metrics_for_an_unreachable_database_exits_1_with_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["metrics", "--database-url", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"])
    lines = capsys.readouterr().err.strip().splitlines()
    # The target it was told, then the error in one line (no traceback).
    assert code == 1 and len(lines) == 2
    assert lines[0] == "opsdb metrics: target nobody@127.0.0.1:1/none (from --database-url)"
    assert lines[1].startswith("opsdb metrics: connection failed: ")


def test_metrics_as_an_api_role_is_refused(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    for role in ("authenticated", "service_role"):
        assert main(["metrics", "--database-url", db_url + f"?options=-c%20role%3D{role}"]) == 1
        err = capsys.readouterr().err
        assert "not_allowed" in err or "permission denied" in err, role


def test_docs_give_a_sample_alerting_rule_for_every_signal(db: psycopg.Connection) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text()
    blocks = [yaml.safe_load(b.split("```", 1)[0]) for b in text.split("```yaml\n")[1:]]
    rules = [r for b in blocks if "groups" in b for g in b["groups"] for r in g["rules"]]
    exprs = " ".join(r["expr"] for r in rules)
    signals = {s for (s,) in db.execute("select distinct signal from public.monitoring_signals()").fetchall()}

    assert {s for s in signals if f"opsdb_{s}{{" not in exprs} == set()
    assert all({"alert", "expr", "labels", "annotations"} <= set(r) for r in rules)
