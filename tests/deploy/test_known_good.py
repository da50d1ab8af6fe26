"""Known-good deployments, `opsdb status` and `opsdb deployments`, and the audit's JSON for CI."""

from __future__ import annotations

import json

import psycopg
import pytest

from harness.audit.readiness import SIGNING_SECRETS
from harness.cli import main


def _add_secrets(db: psycopg.Connection) -> None:
    for name in SIGNING_SECRETS:
        db.execute("select vault.create_secret(%s, %s)", ("deploy-" + name, name))


def _known_good(db: psycopg.Connection) -> list[int]:
    return [r[0] for r in db.execute("select id from opsdb_meta.deployments where known_good_at is not null")]


def test_the_migrated_template_carries_its_deployment(db: psycopg.Connection) -> None:
    row = db.execute(
        "select d.outcome, cardinality(d.files) > 100, r.named from opsdb_meta.deployments as d"
        " join opsdb_meta.restore_points as r on r.id = d.restore_point_id"
    ).fetchall()
    assert row == [("succeeded", True, True)]


def test_a_passing_audit_marks_the_last_deployment_known_good_and_status_shows_it(
    db: psycopg.Connection, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_secrets(db)
    assert main(["status", "--database-url", db_url]) == 0
    before = capsys.readouterr().out
    assert "last deployment   #1 " in before and " succeeded " in before
    assert "last known-good   none yet" in before

    assert main(["audit", "--database-url", db_url]) == 0

    assert "deployment #1 marked known-good" in capsys.readouterr().out
    assert _known_good(db) == [1]
    main(["status", "--database-url", db_url])
    after = capsys.readouterr().out
    assert "last known-good   #1 " in after and "KNOWN-GOOD" in after
    assert "git restore --source" in after


def test_a_failing_audit_marks_nothing(db: psycopg.Connection, db_url: str) -> None:
    _add_secrets(db)
    db.execute("create table public.audit_probe (id int primary key)")

    assert main(["audit", "--database-url", db_url]) == 1

    assert _known_good(db) == []


def test_a_failed_last_deployment_is_never_known_good(db: psycopg.Connection, db_url: str) -> None:
    _add_secrets(db)
    db.execute(
        "insert into opsdb_meta.deployments (deployed_by, outcome, error, finished_at)"
        " values ('probe', 'failed', 'db/x.sql:1: boom', now())"
    )

    assert main(["audit", "--database-url", db_url]) == 0

    assert _known_good(db) == []


def test_deployments_lists_newest_first_with_restore_points(
    db: psycopg.Connection, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db.execute(
        "insert into opsdb_meta.deployments (deployed_by, outcome, error, finished_at)"
        " values ('probe', 'refused', 'refused: destructive migration', now())"
    )

    assert main(["deployments", "--database-url", db_url]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("#2 ") and " refused " in lines[0]
    assert lines[1] == "    error: refused: destructive migration"
    assert lines[2].startswith("#1 ") and " succeeded " in lines[2]
    assert lines[3].startswith("    restore point #1: WAL ") and "named point 'opsdb_deploy_" in lines[3]
    assert lines[-1] == "2 deployment(s) shown"


def test_audit_json_for_ci_exit_zero_when_ready(
    db: psycopg.Connection, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_secrets(db)

    code = main(["audit", "--database-url", db_url, "--format", "json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0 == report["exit_code"]
    assert report["verdict"] in ("READY", "READY WITH WARNINGS") and report["failed"] == []
    assert report["known_good_deployment"] == 1
    checks = {c["name"]: c for s in report["sections"] for c in s["checks"]}
    assert checks["rls_on_every_table"] == {
        "name": "rls_on_every_table",
        "rule": checks["rls_on_every_table"]["rule"],
        "severity": "fail",
        "verdict": "PASS",
        "findings": [],
        "error": None,
    }


def test_audit_json_exit_one_names_the_failed_checks(
    db: psycopg.Connection, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db.execute("create table public.audit_probe (id int primary key)")

    code = main(["audit", "--database-url", db_url, "--format", "json"])

    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 1 == report["exit_code"]
    assert report["verdict"] == "NOT READY"
    assert {"rls_on_every_table", "anon_touches_nothing"} <= set(report["failed"])
    assert "NOT READY" in err


def test_audit_exit_three_when_it_cannot_run_and_two_on_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--database-url", "postgresql://nobody@127.0.0.1:1/none", "--format", "json"]) == 3
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines()[-1].startswith("opsdb audit: cannot connect:")
    with pytest.raises(SystemExit) as usage:
        main(["audit", "--format", "yaml"])
    assert usage.value.code == 2
