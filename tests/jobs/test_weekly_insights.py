"""generate_weekly_insights: exact figures per workspace and ISO week, logged, idempotent, partial failures kept."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from harness.factories import Factories, Workspace, acting_as
from harness.rows import scalar
from harness.rpc import ANON, RpcError, user
from harness.testing import Rpc

UTC = datetime.timezone.utc
US = datetime.timedelta(microseconds=1)
FIGURES = (
    "calls", "call_minutes", "failed_calls", "sms_inbound", "sms_outbound", "failed_sms",
    "messages_inbound", "messages_outbound", "errors", "usage", "credits_spent", "credits_granted",
    "webhook_failures", "webhooks_rejected", "alerts_raised", "change",
)


def _last_complete_week() -> datetime.date:
    today = datetime.datetime.now(UTC).date()
    return today - datetime.timedelta(days=today.weekday() + 7)


WEEK = _last_complete_week() - datetime.timedelta(days=7)  # a finished week with a finished week after it
PREVIOUS = WEEK - datetime.timedelta(days=7)


def at(day: datetime.date, hours: float = 12) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), UTC) + datetime.timedelta(hours=hours)


def start(day: datetime.date) -> datetime.datetime:
    return at(day, 0)


def call(db: psycopg.Connection, ws: Workspace, status: str, when: datetime.datetime, minutes: int | None = None,
         sid: str | None = None) -> None:
    db.execute(
        "insert into public.call_events (workspace_id, call_sid, call_status, direction, billable_minutes, occurred_at)"
        " values (%s, %s, %s, 'inbound', %s, %s)",
        (ws.id, sid or "CA" + uuid.uuid4().hex, status, minutes, when),
    )


def sms(db: psycopg.Connection, ws: Workspace, status: str, direction: str, when: datetime.datetime) -> None:
    db.execute(
        "insert into public.sms_events (workspace_id, message_sid, sms_status, direction, occurred_at)"
        " values (%s, %s, %s, %s, %s)",
        (ws.id, "SM" + uuid.uuid4().hex, status, direction, when),
    )


def message(db: psycopg.Connection, factories: Factories, ws: Workspace, direction: str, when: datetime.datetime) -> None:
    factories.message(factories.conversation(ws), body="hi", direction=direction, at=when)


def usage(db: psycopg.Connection, ws: Workspace, metric: str, quantity: str, when: datetime.datetime) -> None:
    db.execute(
        "insert into public.usage_events (workspace_id, metric, quantity, period_start, tier_snapshot_id, occurred_at)"
        " values (%s, %s, %s, date_trunc('month', %s at time zone 'UTC')::date, 0, %s)",
        (ws.id, metric, Decimal(quantity), when, when),
    )


def ledger(db: psycopg.Connection, ws: Workspace, amount: str, when: datetime.datetime) -> None:
    db.execute(
        "insert into public.workspace_wallets (workspace_id, balance) values (%s, 1000) on conflict do nothing",
        (ws.id,),
    )
    db.execute(
        "insert into public.wallet_ledger (workspace_id, kind, amount, balance_after, reason, actor_role, created_at)"
        " values (%s, %s, %s, 1000, 'probe', 'postgres', %s)",
        (ws.id, "deduct" if Decimal(amount) < 0 else "grant", Decimal(amount), when),
    )


def alert(db: psycopg.Connection, ws: Workspace, when: datetime.datetime) -> None:
    db.execute(
        "insert into public.alerts (type, workspace_id, dedupe_key, message, created_at)"
        " values ('probe', %s, %s, 'probe', %s)",
        (ws.id, "probe:" + uuid.uuid4().hex, when),
    )


def delivery(db: psycopg.Connection, provider: str, status: str, payload: dict, when: datetime.datetime) -> None:
    db.execute(
        "insert into public.webhook_queue (provider, idempotency_key, status, payload, received_at)"
        " values (%s, %s, %s, %s, %s)",
        (provider, "probe:" + uuid.uuid4().hex, status, Jsonb(payload), when),
    )


def workspace(db: psycopg.Connection, factories: Any) -> Workspace:
    """A workspace that already existed in the weeks under test (insights cover weeks a workspace existed in)."""
    ws = factories.workspace()
    db.execute("update public.workspaces set created_at = %s where id = %s", (start(PREVIOUS) - US, ws.id))
    return ws


def insight(db: psycopg.Connection, ws: Workspace, week: datetime.date = WEEK) -> dict[str, Any] | None:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select * from public.weekly_insights where workspace_id = %s and week_start = %s", (ws.id, week)
        ).fetchone()


def stored(db: psycopg.Connection, ws: Workspace, week: datetime.date = WEEK) -> dict[str, Any]:
    """``ws``'s insight row of ``week``, which must exist."""
    row = insight(db, ws, week)
    assert row is not None, f"no insight for {ws.id} in the week of {week}"
    return row


def figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in FIGURES}


def zeros(**given: Any) -> dict[str, Any]:
    """The figures of an idle week, with ``given`` overriding (change excluded)."""
    base: dict[str, Any] = {k: 0 for k in FIGURES if k not in ("usage", "change")}
    base["usage"] = {}
    return {**base, **given}


def seed_week(db: psycopg.Connection, factories: Any, ws: Workspace, day: datetime.date) -> None:
    """A busy week starting ``day``: every figure has something in it."""
    call(db, ws, "completed", start(day), minutes=3)  # the first microsecond of the week counts
    call(db, ws, "completed", start(day) + datetime.timedelta(days=7) - US, minutes=2)  # the last one too
    call(db, ws, "no-answer", at(day + datetime.timedelta(days=1)))
    call(db, ws, "failed", at(day + datetime.timedelta(days=2)))
    ongoing = "CA" + uuid.uuid4().hex
    for status in ("initiated", "ringing", "in-progress"):  # a call counts once, when it ends
        call(db, ws, status, at(day), sid=ongoing)
    sms(db, ws, "received", "inbound", at(day, 1))
    sms(db, ws, "received", "inbound", at(day, 2))
    sms(db, ws, "sent", "outbound", at(day, 3))
    sms(db, ws, "delivered", "outbound", at(day, 4))  # a status of a message already counted as sent
    sms(db, ws, "undelivered", "outbound", at(day, 5))
    message(db, factories, ws, "inbound", at(day, 6))
    message(db, factories, ws, "inbound", at(day, 7))
    message(db, factories, ws, "outbound", at(day, 8))
    usage(db, ws, "sms", "2", at(day, 1))
    usage(db, ws, "sms", "1.5", at(day, 2))
    usage(db, ws, "call_minutes", "5", at(day, 3))
    ledger(db, ws, "-2.5", at(day, 1))
    ledger(db, ws, "-1", at(day, 2))
    ledger(db, ws, "10", at(day, 3))
    alert(db, ws, at(day, 4))


BUSY = zeros(
    calls=4, call_minutes=5, failed_calls=1, sms_inbound=2, sms_outbound=1, failed_sms=1,
    messages_inbound=2, messages_outbound=1, errors=2, usage={"sms": 3.5, "call_minutes": 5},
    credits_spent=Decimal("3.5"), credits_granted=Decimal("10"), alerts_raised=1,
)


def without_change(row: dict[str, Any]) -> dict[str, Any]:
    found = figures(row)
    del found["change"]
    return found


def test_a_seeded_week_has_exact_figures_and_other_weeks_and_workspaces_do_not_leak_in(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    a, b = workspace(db, factories), workspace(db, factories)
    seed_week(db, factories, a, WEEK)
    # Just outside the week on either side: the previous week's last microsecond, the next week's first.
    call(db, a, "completed", start(WEEK) - US, minutes=7)
    sms(db, a, "received", "inbound", start(WEEK) + datetime.timedelta(days=7))
    usage(db, a, "sms", "100", start(WEEK) - US)
    ledger(db, a, "-50", start(WEEK) + datetime.timedelta(days=7))
    # Another workspace's week.
    call(db, b, "completed", at(WEEK), minutes=11)
    message(db, factories, b, "outbound", at(WEEK))

    result = rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})

    assert result["status"] == "succeeded" and result["errors"] == []
    assert result["week_start"] == WEEK.isoformat()
    assert result["workspaces"] == 2 and result["failed"] == 0
    assert without_change(stored(db, a)) == BUSY
    assert without_change(stored(db, b)) == zeros(calls=1, call_minutes=11, messages_outbound=1)
    assert scalar(db, "select count(*) from public.weekly_insights") == 2


def test_the_change_against_the_previous_week_is_computed_per_figure(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = workspace(db, factories)
    seed_week(db, factories, ws, WEEK)
    call(db, ws, "completed", at(PREVIOUS), minutes=10)
    call(db, ws, "completed", at(PREVIOUS), minutes=10)
    usage(db, ws, "sms", "7", at(PREVIOUS))
    usage(db, ws, "messages", "4", at(PREVIOUS))

    rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})

    change = stored(db, ws)["change"]
    assert change["calls"] == {"previous": 2, "delta": 2, "percent": 100.0}
    assert change["call_minutes"] == {"previous": 20, "delta": -15, "percent": -75.0}
    assert change["sms_inbound"] == {"previous": 0, "delta": 2, "percent": None}
    assert change["webhook_failures"] == {"previous": 0, "delta": 0, "percent": None}
    assert change["credits_spent"] == {"previous": 0, "delta": 3.5, "percent": None}
    assert change["usage"] == {
        "sms": {"previous": 7, "delta": -3.5, "percent": -50.0},
        "messages": {"previous": 4, "delta": -4, "percent": -100.0},
        "call_minutes": {"previous": 0, "delta": 5, "percent": None},
    }
    assert set(change) == set(FIGURES) - {"change"}


def test_without_a_week_it_does_the_last_complete_iso_week(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = workspace(db, factories)
    last = _last_complete_week()
    call(db, ws, "completed", at(last), minutes=1)

    result = rpc("generate_weekly_insights")

    assert result["week_start"] == last.isoformat()
    assert without_change(stored(db, ws, last)) == zeros(calls=1, call_minutes=1)


@pytest.mark.opsdb_needs("pg_cron")
def test_the_cron_job_runs_on_mondays_for_the_week_just_ended(db: psycopg.Connection, factories: Factories) -> None:
    ws = workspace(db, factories)
    job = db.execute("select schedule, command from cron.job where jobname = 'weekly-insights'").fetchone()
    assert job == ("30 4 * * 1", "select public.generate_weekly_insights()")

    db.execute(job[1])  # as pg_cron would run it

    assert insight(db, ws, _last_complete_week()) is not None


@pytest.mark.parametrize(
    ("week_start", "message"),
    [
        (WEEK + datetime.timedelta(days=1), "invalid_week_start"),  # a Tuesday
        (WEEK - datetime.timedelta(days=1), "invalid_week_start"),  # a Sunday
        ("infinity", "invalid_week_start"),
        (_last_complete_week() + datetime.timedelta(days=7), "week_not_over"),  # this week
        (_last_complete_week() + datetime.timedelta(days=70), "week_not_over"),  # the future
    ],
)
def test_a_bad_week_start_is_refused_and_nothing_is_written(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, week_start: Any, message: str
) -> None:
    factories.workspace()

    with pytest.raises(RpcError) as err:
        rpc("generate_weekly_insights", {"week_start": str(week_start)})

    assert (err.value.sqlstate, err.value.status, err.value.message) == ("22023", 400, message)
    assert err.value.detail and err.value.hint
    assert scalar(db, "select count(*) from public.weekly_insights") == 0
    assert scalar(db, "select count(*) from public.job_runs") == 0


def test_running_a_week_again_replaces_its_rows_with_the_same_figures(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    a, b = workspace(db, factories), workspace(db, factories)
    seed_week(db, factories, a, WEEK)
    seed_week(db, factories, b, PREVIOUS)

    first = rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})
    before = {ws.id: figures(stored(db, ws)) for ws in (a, b)}
    second = rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})
    after = {ws.id: stored(db, ws) for ws in (a, b)}

    assert second["status"] == "succeeded" and second["job_run_id"] != first["job_run_id"]
    assert {k: figures(v) for k, v in after.items()} == before
    assert {v["job_run_id"] for v in after.values()} == {second["job_run_id"]}
    assert scalar(db, "select count(*) from public.weekly_insights") == 2


def test_a_failing_workspace_is_recorded_and_the_others_still_commit(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    good, bad = workspace(db, factories), workspace(db, factories)
    seed_week(db, factories, good, WEEK)
    db.execute(
        f"""
        create function public.refuse_insight() returns trigger language plpgsql as
        $$ begin
            if new.workspace_id = '{bad.id}' then raise exception 'workspace under investigation'; end if;
            return new;
        end $$
        """
    )
    db.execute(
        "create trigger refuse_insight before insert on public.weekly_insights"
        " for each row execute function public.refuse_insight()"
    )

    result = rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})

    assert result["status"] == "partial"
    assert (result["workspaces"], result["failed"]) == (1, 1)
    assert result["errors"] == [{"step": str(bad.id), "sqlstate": "P0001", "message": "workspace under investigation"}]
    assert without_change(stored(db, good)) == BUSY
    assert insight(db, bad) is None
    logged = db.execute("select status, errors from public.job_runs where id = %s", (result["job_run_id"],)).fetchone()
    assert logged == ("partial", result["errors"])
    alerts = db.execute(
        "select severity, details ->> 'job_run_id' from public.alerts"
        " where type = 'job_failure' and dedupe_key = 'job_failure:weekly_insights'"
    ).fetchall()
    assert alerts == [("warning", str(result["job_run_id"]))]


def test_every_run_is_logged_in_job_runs(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    workspace(db, factories)

    result = rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})

    with db.cursor(row_factory=dict_row) as cur:
        run = cur.execute("select * from public.job_runs where id = %s", (result["job_run_id"],)).fetchone()
    assert run is not None
    assert (run["job_name"], run["status"], run["started_by_role"]) == ("weekly_insights", "succeeded", "service_role")
    assert run["params"] == {"week_start": WEEK.isoformat()}
    assert run["result"] == {"week_start": WEEK.isoformat(), "workspaces": 1, "failed": 0}
    assert run["errors"] == [] and run["finished_at"] is not None


def test_insights_outlive_the_purge_of_their_job_run(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    ws = workspace(db, factories)
    call(db, ws, "completed", at(WEEK), minutes=6)
    run = rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})["job_run_id"]
    db.execute("update public.job_runs set started_at = now() - interval '400 days' where id = %s", (run,))

    cleanup = rpc("run_retention_cleanup")

    assert cleanup["status"] == "succeeded" and cleanup["deleted"]["job_runs"] == 1
    kept = insight(db, ws)
    assert kept is not None and kept["job_run_id"] is None
    assert without_change(kept) == zeros(calls=1, call_minutes=6)


def test_suspended_and_disabled_workspaces_get_insights_and_later_ones_do_not(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    suspended, disabled, later = workspace(db, factories), workspace(db, factories), workspace(db, factories)
    call(db, suspended, "completed", at(WEEK), minutes=4)
    db.execute("update public.workspaces set status = 'suspended' where id = %s", (suspended.id,))
    db.execute("update public.workspaces set status = 'disabled' where id = %s", (disabled.id,))
    db.execute(
        "update public.workspaces set created_at = %s where id = %s", (start(WEEK) + datetime.timedelta(days=7), later.id)
    )

    result = rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})

    assert result["workspaces"] == 2
    assert without_change(stored(db, suspended)) == zeros(calls=1, call_minutes=4)
    assert without_change(stored(db, disabled)) == zeros()
    assert insight(db, later) is None


def test_webhook_failures_are_attributed_by_the_workspace_numbers_and_channels(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws, other = workspace(db, factories), workspace(db, factories)
    agent = factories.agent(ws, phone_number="+15550001111")
    factories.channel(ws, agent, channel_type="whatsapp", external_id="wa-phone-1")
    factories.channel(ws, agent, channel_type="messenger", external_id="page-1")
    factories.agent(other, phone_number="+15550002222")
    when = at(WEEK)
    delivery(db, "twilio", "failed", {"To": "+15550001111", "From": "+201000000000"}, when)
    delivery(db, "twilio", "dead_letter", {"To": "+201000000000", "From": "+15550001111"}, when)  # outbound status
    delivery(db, "meta", "failed", {"object": "whatsapp_business_account", "entry": [
        {"id": "waba", "changes": [{"value": {"metadata": {"phone_number_id": "wa-phone-1"}}}]}
    ]}, when)
    delivery(db, "meta", "dead_letter", {"object": "page", "entry": [{"id": "page-1"}]}, when)
    delivery(db, "twilio", "rejected", {"To": "+15550001111"}, when)  # a bad signature claiming the number
    # Not this workspace's failures, not failures, or not this week.
    delivery(db, "twilio", "failed", {"To": "+15550002222"}, when)
    delivery(db, "twilio", "failed", {"To": "+19999999999"}, when)  # an unknown number: nobody's
    delivery(db, "twilio", "processed", {"To": "+15550001111"}, when)
    delivery(db, "twilio", "failed", {"To": "+15550001111"}, start(WEEK) - US)
    delivery(db, "meta", "failed", {"object": "page", "entry": [{"id": "page-2"}]}, when)

    rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})

    mine, theirs = stored(db, ws), stored(db, other)
    assert (mine["webhook_failures"], mine["webhooks_rejected"]) == (4, 1)
    assert (theirs["webhook_failures"], theirs["webhooks_rejected"]) == (1, 0)


@pytest.mark.parametrize("caller", ["anon", "authenticated", "owner", "platform_admin"])
def test_only_service_role_may_run_it(rpc: Rpc, db: psycopg.Connection, factories: Factories, caller: str) -> None:
    ws = workspace(db, factories)
    jwt = {
        "anon": ANON,
        "authenticated": user(factories.user().id),
        "owner": ws.owner.jwt,
        "platform_admin": user(factories.platform_admin().id),
    }[caller]

    with pytest.raises(RpcError) as err:
        rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()}, as_=jwt)

    assert err.value.sqlstate == "42501"
    assert scalar(db, "select count(*) from public.weekly_insights") == 0
    assert scalar(db, "select count(*) from public.job_runs") == 0


def test_a_member_reads_only_their_workspace_insights_and_staff_read_all(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    a, b = workspace(db, factories), workspace(db, factories)
    member_a, member_b = factories.member(a), factories.member(b)
    support = factories.support()
    rpc("generate_weekly_insights", {"week_start": WEEK.isoformat()})

    def seen(jwt: Any) -> set[uuid.UUID]:
        with acting_as(db, jwt) as conn:
            return {r[0] for r in conn.execute("select workspace_id from public.weekly_insights").fetchall()}

    assert seen(member_a.jwt) == {a.id}
    assert seen(member_b.jwt) == {b.id}
    assert seen(a.owner.jwt) == {a.id}
    assert seen(support.jwt) == {a.id, b.id}
    assert seen(factories.user().jwt) == set()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, ANON) as conn:
        conn.execute("select count(*) from public.weekly_insights")
