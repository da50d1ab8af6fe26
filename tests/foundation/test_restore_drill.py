"""opsdb drill: a dump restored into a new database holds every row and the same schema."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from harness.cli import main
from harness.deploy.restore_drill import run_drill
from harness.factories import Factories
from harness.rows import scalar
from harness.testing import Connect, Rpc


def _seed(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace()
    rpc("record_usage", {"workspace_id": str(ws.id), "metric": "sms", "quantity": 3})
    rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 10, "reason": "drill"})
    rpc("deduct_credits", {"workspace_id": str(ws.id), "amount": 4, "reason": "drill"})


def _databases(db: psycopg.Connection) -> set[str]:
    return {r[0] for r in db.execute("select datname from pg_database where datname like 'opsdb_drill_%'")}


def test_the_drill_restores_every_table_and_the_schema_then_drops_the_copy(
    rpc: Rpc, factories: Factories, db: psycopg.Connection, db_url: str
) -> None:
    _seed(rpc, factories)

    report = run_drill(db_url, out=lambda _line: None)

    assert report.ok, report.problems
    for table in ("public.usage_events", "public.wallet_ledger", "public.workspace_wallets", "public.audit_logs",
                  "opsdb_meta.schema_history", "auth.users", "vault.secrets", "private.rate_limit_counters"):
        assert table in report.tables
    assert report.tables["public.wallet_ledger"].rows == 2
    assert report.tables["public.usage_events"].rows == 1
    assert not any(name.startswith("cron.") for name in report.tables)
    assert set(report.seconds) == {"dump", "restore", "verify"}
    assert _databases(db) == set()


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("delete from public.unknown_phone", "public.unknown_phone: 1 rows in the source, 0 restored"),
        ("update public.plans set name = 'Free!' where key = 'free'",
         "public.plans: 4 rows in the source, 4 restored (same count, different rows)"),
        ("alter table public.agents add column drill_probe int", "schema:"),
    ],
    ids=["lost_row", "changed_row", "changed_schema"],
)
def test_the_drill_names_what_the_restored_copy_lost_or_changed(
    db: psycopg.Connection, db_url: str, damage: str, problem: str
) -> None:
    db.execute("insert into public.unknown_phone (provider, channel_type, phone_number) values ('twilio', 'sms', '+15550000001')")
    plans = scalar(db, "select count(*) from public.plans")

    report = run_drill(db_url, out=lambda _line: None, after_restore=lambda copy: copy.execute(damage))

    assert not report.ok
    assert len(report.problems) == 1
    assert report.problems[0].startswith(problem.replace("4 rows", f"{plans} rows").replace("4 restored", f"{plans} restored"))
    assert _databases(db) == set()


def test_rows_written_during_the_dump_do_not_break_the_comparison(
    db: psycopg.Connection, db_url: str, connect: Connect
) -> None:
    writer = connect()
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        while not stop.is_set():
            writer.execute(
                "insert into public.unknown_phone (provider, channel_type, phone_number) values ('twilio', 'sms', %s)",
                ("+1" + str(uuid.uuid4().int)[:14],),
            )
            written.append(1)

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        report = run_drill(db_url, out=lambda _line: None)
    finally:
        stop.set()
        thread.join()

    # The fingerprints and the dump share one snapshot: rows committed meanwhile are in neither.
    assert report.ok, report.problems
    assert len(written) > report.tables["public.unknown_phone"].rows


def test_a_schema_change_during_the_drill_is_not_a_difference(db: psycopg.Connection, db_url: str) -> None:
    # A migration landing while the drill runs: after the snapshot, before the comparison.
    def migrate_source(_copy: psycopg.Connection) -> None:
        db.execute("alter table public.agents add column drill_probe int")

    report = run_drill(db_url, out=lambda _line: None, after_restore=migrate_source)

    assert report.ok, report.problems


def test_the_cli_keeps_the_dump_as_a_restore_point(
    db: psycopg.Connection, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "restore_point.dump"

    code = main(["drill", "--database-url", db_url, "--keep-dump", str(target)])

    out = capsys.readouterr().out
    assert code == 0
    assert out.strip().splitlines()[-1].startswith("restore drill passed: ")
    assert target.stat().st_size > 0 and target.read_bytes().startswith(b"PGDMP")
    assert target.stat().st_mode & 0o777 == 0o600  # it holds PII: its owner's only
    assert list(tmp_path.iterdir()) == [target]
