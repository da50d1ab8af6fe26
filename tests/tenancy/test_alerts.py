"""The shared alerts table: one open alert per condition until it is resolved, even under concurrency."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from harness.factories import Factories, acting_as
from harness.race import race_each
from harness.rows import scalar


def raise_alert(conn: psycopg.Connection, key: str) -> int | None:
    row = conn.execute("select private.raise_alert('usage_warning', %s, 'soft limit crossed')", (key,)).fetchone()
    return row[0] if row else None


def test_one_condition_raises_one_open_alert_until_resolved(db: psycopg.Connection) -> None:
    first = raise_alert(db, "usage:ws1:sms:80")
    assert first is not None
    assert raise_alert(db, "usage:ws1:sms:80") is None
    # acknowledged: someone is on it, the condition is still open
    db.execute("update public.alerts set acknowledged_at = now() where id = %s", (first,))
    assert raise_alert(db, "usage:ws1:sms:80") is None
    # resolved: history; the condition may raise a new alert
    assert db.execute("select private.clear_alert('usage:ws1:sms:80', 'auto: test')").fetchone() == (first,)
    assert db.execute("select private.clear_alert('usage:ws1:sms:80', 'auto: test')").fetchone() == (None,)
    second = raise_alert(db, "usage:ws1:sms:80")
    assert second not in (None, first)
    assert db.execute(
        "select id, resolved_at is not null, resolved_by, resolution from public.alerts order by id"
    ).fetchall() == [(first, True, None, "auto: test"), (second, False, None, None)]


def test_an_alert_is_resolved_with_a_reason_or_not_at_all(db: psycopg.Connection) -> None:
    alert = raise_alert(db, "usage:ws1:sms:90")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("update public.alerts set resolved_at = now() where id = %s", (alert,))


def test_concurrent_raisers_leave_exactly_one_open_alert(connect: Callable[..., psycopg.Connection]) -> None:
    conns = [connect() for _ in range(8)]

    def worker(conn: psycopg.Connection) -> int | None:
        return raise_alert(conn, "webhook:signature:meta")

    results = race_each(conns, worker)
    assert len(results) == 8 and sum(r is not None for r in results) == 1
    assert conns[0].execute("select count(*) from public.alerts").fetchone() == (1,)


def test_workspace_admins_acknowledge_their_alerts_members_only_read(
    db: psycopg.Connection, factories: Factories
) -> None:
    ws = factories.workspace()
    member = factories.member(ws, "member")
    alert = scalar(
        db,
        "select private.raise_alert('credits_exhausted', %s, 'no credits', %s)", (f"credits:{ws.id}", ws.id)
    )
    with acting_as(db, member.jwt):
        seen = db.execute("select id from public.alerts").fetchall()
        acked_by_member = db.execute(
            "update public.alerts set acknowledged_at = now() where id = %s", (alert,)
        ).rowcount
    with acting_as(db, ws.owner.jwt):
        acked_by_owner = db.execute(
            "update public.alerts set acknowledged_at = now(), acknowledged_by = %s where id = %s", (ws.owner.id, alert)
        ).rowcount
    assert (seen, acked_by_member, acked_by_owner) == ([(alert,)], 0, 1)
