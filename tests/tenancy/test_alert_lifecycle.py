"""Alerts are acknowledged and resolved by platform admins (audited), resolve by
themselves when their condition clears, and stay as history."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from harness.factories import Factories
from harness.rows import scalar
from harness.rpc import RpcError
from harness.testing import Rpc


def _raise(db: psycopg.Connection, key: str, type_: str = "job_failure", workspace_id: Any = None,
           details: str = "{}") -> int:
    row = db.execute(
        "select private.raise_alert(%s, %s, 'something failed', %s, 'critical', %s::jsonb)",
        (type_, key, workspace_id, details),
    ).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def _audits(db: psycopg.Connection, alert_id: int) -> list[tuple]:
    return db.execute(
        "select action, actor_id, reason, after ->> 'resolution' from public.audit_logs"
        " where target_table = 'alerts' and target_id = %s order by id",
        (str(alert_id),),
    ).fetchall()


def test_an_admin_acknowledges_an_alert_which_stays_open(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    alert = _raise(db, "job_failure:nightly")
    admin = factories.platform_admin()

    first = rpc("acknowledge_alert", {"alert_id": alert, "note": "on it"}, as_=admin.jwt)
    again = rpc("acknowledge_alert", {"alert_id": alert, "note": "still on it"}, as_=admin.jwt)

    assert (first["id"], first["acknowledged_by"], first["resolved_at"], first["changed"]) == (
        alert, str(admin.id), None, True
    )
    assert (again["acknowledged_at"], again["changed"]) == (first["acknowledged_at"], False)
    assert _audits(db, alert) == [("acknowledge_alert", admin.id, "on it", None)]
    assert db.execute("select private.raise_alert('job_failure', 'job_failure:nightly', 'again')").fetchone() == (None,)


def test_an_admin_resolves_an_alert_which_stays_as_history(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    alert = _raise(db, "job_failure:nightly")
    other = _raise(db, "job_failure:weekly")
    admin = factories.platform_admin()

    resolved = rpc("resolve_alert", {"alert_id": alert, "note": "fixed the cron entry"}, as_=admin.jwt)
    plain = rpc("resolve_alert", {"alert_id": other}, as_=admin.jwt)
    again = rpc("resolve_alert", {"alert_id": alert, "note": "twice"}, as_=admin.jwt)

    assert (resolved["resolved_by"], resolved["resolution"], resolved["acknowledged_by"]) == (
        str(admin.id), "fixed the cron entry", str(admin.id)
    )
    assert plain["resolution"] == "resolved by a platform admin"
    assert (again["resolution"], again["changed"]) == ("fixed the cron entry", False)
    assert _audits(db, alert) == [("resolve_alert", admin.id, "fixed the cron entry", "fixed the cron entry")]
    # the condition again: a new alert, the resolved one kept
    new = _raise(db, "job_failure:nightly")
    assert db.execute(
        "select id, resolved_at is not null from public.alerts where dedupe_key = 'job_failure:nightly' order by id"
    ).fetchall() == [(alert, True), (new, False)]


def test_only_platform_admins_acknowledge_or_resolve(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    ws = factories.workspace()
    alert = _raise(db, f"credits_exhausted:{ws.id}", "credits_exhausted", ws.id)
    for caller in (ws.owner.jwt, factories.support().jwt, "service_role", "anon"):
        for fn in ("acknowledge_alert", "resolve_alert"):
            with pytest.raises(RpcError) as caught:
                rpc(fn, {"alert_id": alert}, as_=caller)
            assert caught.value.sqlstate == "42501"
    assert db.execute("select acknowledged_at, resolved_at from public.alerts").fetchall() == [(None, None)]
    assert _audits(db, alert) == []


def test_bad_alert_arguments_change_nothing(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    alert = _raise(db, "job_failure:nightly")
    admin = factories.platform_admin()
    cases = [(987654, None, "PT404", "alert_not_found"), (None, None, "22023", "alert_required"),
             (alert, "x" * 1001, "22023", "invalid_note")]
    for alert_id, note, sqlstate, message in cases:
        for fn in ("acknowledge_alert", "resolve_alert"):
            with pytest.raises(RpcError) as caught:
                rpc(fn, {"alert_id": alert_id, "note": note}, as_=admin.jwt)
            assert (caught.value.sqlstate, caught.value.message) == (sqlstate, message)
    assert db.execute("select acknowledged_at, resolved_at from public.alerts").fetchall() == [(None, None)]


def _sweep(db: psycopg.Connection) -> dict[str, Any]:
    return scalar(db, "select private.resolve_cleared_alerts()")


def _open(db: psycopg.Connection, alert_id: int) -> bool:
    return scalar(db, "select resolved_at is null from public.alerts where id = %s", (alert_id,))


def test_usage_alerts_of_a_period_that_ended_resolve(db, factories: Factories) -> None:
    ws = factories.workspace()
    past = _raise(db, "usage_warning:past", "usage_warning", ws.id, '{"period_start": "2020-01-01"}')
    current = _raise(db, "usage_warning:now", "usage_warning", ws.id,
                     '{"period_start": "%s"}' % scalar(db, "select private.usage_period()"))

    result = _sweep(db)

    assert (_open(db, past), _open(db, current)) == (False, True)
    assert result["by_type"]["usage"] == 1 and result["job_run_id"] is not None
    assert db.execute("select resolution from public.alerts where id = %s", (past,)).fetchone() == (
        "auto: billing period 2020-01-01 ended",
    )


def test_an_auth_failure_spike_resolves_once_it_is_over(rpc: Rpc, db: psycopg.Connection) -> None:
    for _ in range(20):
        rpc.response("authenticate_api_key", {"api_key": "opsk_" + "0" * 64})
    alert = scalar(db, "select id from public.alerts where type = 'api_auth_failures'")
    assert _sweep(db)["resolved"] == 0 and _open(db, alert)

    db.execute("update public.external_api_audit_logs set occurred_at = occurred_at - interval '6 minutes'")

    assert _sweep(db)["by_type"]["api_auth_failures"] == 1 and not _open(db, alert)


def test_a_signature_failure_alert_resolves_after_15_quiet_minutes(db: psycopg.Connection) -> None:
    alert = _raise(db, "signature_failure:meta:now", "signature_failure", None, '{"provider": "meta"}')
    db.execute(
        "insert into public.webhook_queue (provider, idempotency_key, status, payload, signature_valid, received_at)"
        " values ('meta', 'forged', 'rejected', '{}', false, now() - interval '10 minutes')"
    )
    db.execute("update public.alerts set created_at = now() - interval '20 minutes'")
    assert _sweep(db)["resolved"] == 0 and _open(db, alert)

    db.execute("update public.webhook_queue set received_at = now() - interval '16 minutes'")

    assert _sweep(db)["by_type"]["signature_failure"] == 1 and not _open(db, alert)


def test_a_retention_backlog_resolves_once_a_run_leaves_nothing_for_later(db: psycopg.Connection) -> None:
    alert = _raise(db, "retention_backlog", "retention_backlog", None, '{"job_run_id": 0}')
    db.execute(
        "insert into public.job_runs (job_name, status, started_by_role, result, finished_at)"
        " values ('retention_cleanup', 'succeeded', 'postgres', '{\"more\": [\"webhook_deliveries\"]}', now())"
    )
    assert _sweep(db)["resolved"] == 0 and _open(db, alert)

    db.execute(
        "insert into public.job_runs (job_name, status, started_by_role, result, finished_at, started_at)"
        " values ('retention_cleanup', 'succeeded', 'postgres', '{\"more\": []}', now(), now() + interval '1 second')"
    )

    assert _sweep(db)["by_type"]["retention_backlog"] == 1 and not _open(db, alert)


def test_the_sweep_runs_every_minute_and_logs_only_runs_that_resolved_something(db: psycopg.Connection) -> None:
    assert _sweep(db) == {"resolved": 0, "by_type": {
        "usage": 0, "webhook_failure": 0, "api_auth_failures": 0, "signature_failure": 0, "retention_backlog": 0,
        "rate_limit_spike": 0,
    }}
    assert db.execute("select count(*) from public.job_runs").fetchone() == (0,)
    assert db.execute("select schedule, command from cron.job where jobname = 'alerts-auto-resolve'").fetchone() == (
        "* * * * *", "select private.resolve_cleared_alerts()"
    )
