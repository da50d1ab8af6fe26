"""run_reconciliation: internal usage against provider reports, per workspace, metric and UTC day."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from harness.factories import Factories, Workspace, acting_as
from harness.rows import one, scalar
from harness.rpc import ANON, SERVICE_ROLE, RpcError, user
from harness.testing import Connect, Rpc

D1 = datetime.date(2026, 11, 10)
D2 = datetime.date(2026, 11, 11)
D3 = datetime.date(2026, 11, 12)
END = datetime.date(2026, 11, 13)
UTC = datetime.timezone.utc


def _workspace(factories: Factories, db: psycopg.Connection) -> Any:
    """A workspace with a tier snapshot its usage_events can cite."""
    ws = factories.workspace()
    db.execute(
        """
        insert into public.tier_snapshots (workspace_id, period_start, plan_key, currency, limits, reason)
        values (%s, '2026-11-01', 'free', 'EGP', '{}', 'period_start')
        """,
        (ws.id,),
    )
    return ws


def _used(
    db: psycopg.Connection, ws: Workspace, metric: str, quantity: Any, at: datetime.datetime | datetime.date, source: str | None = None
) -> None:
    """One usage event at ``at`` (a date means noon UTC), as record_usage would have written it."""
    if not isinstance(at, datetime.datetime):
        at = datetime.datetime.combine(at, datetime.time(12), tzinfo=UTC)
    db.execute(
        """
        insert into public.usage_events (
            workspace_id, metric, quantity, period_start, tier_snapshot_id, occurred_at, source
        )
        select %(ws)s, %(metric)s, %(quantity)s::numeric, date_trunc('month', %(at)s at time zone 'utc')::date, ts.id,
            %(at)s, %(source)s
        from public.tier_snapshots as ts where ts.workspace_id = %(ws)s order by ts.id limit 1
        """,
        {"ws": ws.id, "metric": metric, "quantity": quantity, "at": at, "source": source},
    )


def _reported(
    db: psycopg.Connection, ws: Workspace, metric: str, quantity: Any, day: datetime.date, provider: str = "twilio"
) -> None:
    db.execute(
        """
        insert into public.provider_usage_reports (provider, workspace_id, metric, usage_date, quantity, report_ref)
        values (%s, %s, %s, %s, %s::numeric, %s)
        """,
        (provider, ws.id, metric, day, str(quantity), "ref-" + uuid.uuid4().hex[:8]),
    )


def _run(rpc: Rpc, start: datetime.date | None = D1, end: datetime.date | None = END, **kw: Any) -> dict:
    return rpc(
        "run_reconciliation",
        {"period_start": start and start.isoformat(), "period_end": end and end.isoformat()},
        **kw,
    )


def _items(db: psycopg.Connection, run_id: int) -> list[tuple]:
    return db.execute(
        """
        select workspace_id, metric, usage_date, kind, internal_quantity, provider_quantity, difference, providers
        from public.reconciliation_items where run_id = %s
        order by metric, workspace_id, usage_date
        """,
        (run_id,),
    ).fetchall()


def _counts(result: dict) -> tuple[int, int, int, int]:
    return (result["matched"], result["mismatched"], result["missing_internal"], result["missing_provider"])


def _written(db: psycopg.Connection) -> dict[str, int]:
    return {
        t: scalar(db, f"select count(*) from public.{t}")
        for t in ("job_runs", "reconciliation_runs", "reconciliation_items", "alerts")
    }


def test_each_day_is_matched_mismatched_or_missing_on_either_side(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    a, b = _workspace(factories, db), _workspace(factories, db)
    _used(db, a, "call_minutes", 10, D1)
    _reported(db, a, "call_minutes", 10, D1)  # matched
    _used(db, a, "call_minutes", 4, D2)
    _used(db, a, "call_minutes", 6, D2)
    _reported(db, a, "call_minutes", 15, D2)  # 10 against 15: mismatched
    _used(db, a, "call_minutes", 4, D3)  # no report: missing_provider
    _reported(db, b, "sms", 5, D1)  # no usage: missing_internal
    _reported(db, b, "sms", 0, D2)  # zero reported, none used: matched
    _used(db, b, "messages", 101, D1, source="whatsapp")
    _reported(db, b, "messages", 100, D1, provider="meta")  # within 2%: matched
    _used(db, b, "llm_tokens", 500, D1)  # no provider reports llm_tokens in the period

    result = _run(rpc)

    assert result["status"] == "succeeded" and result["errors"] == []
    assert _counts(result) == (3, 1, 1, 1)
    assert result["metrics"] == ["call_minutes", "messages", "sms"]
    assert result["unreconciled_metrics"] == ["llm_tokens"]
    assert _items(db, result["run_id"]) == [
        (a.id, "call_minutes", D2, "mismatched", Decimal(10), Decimal(15), Decimal(-5), ["twilio"]),
        (a.id, "call_minutes", D3, "missing_provider", Decimal(4), None, Decimal(4), []),
        (b.id, "sms", D1, "missing_internal", None, Decimal(5), Decimal(-5), ["twilio"]),
    ]
    run = db.execute(
        "select period_start, period_end, status, matched, mismatched, missing_internal, missing_provider,"
        " metrics, unreconciled_metrics, finished_at is not null from public.reconciliation_runs where id = %s",
        (result["run_id"],),
    ).fetchone()
    assert run == (D1, END, "succeeded", 3, 1, 1, 1, ["call_minutes", "messages", "sms"], ["llm_tokens"], True)


@pytest.mark.parametrize(
    ("metric", "internal", "provider", "kind"),
    [
        # call_minutes: 1 minute or 2%, whichever is larger.
        ("call_minutes", "10", "11", "matched"),
        ("call_minutes", "10", "11.5", "mismatched"),
        ("call_minutes", "100", "102", "matched"),  # 2% of 102 = 2.04
        ("call_minutes", "100", "103", "mismatched"),  # 2% of 103 = 2.06 < 3
        ("call_minutes", "103", "100", "mismatched"),  # either direction
        # llm_tokens: 1000 tokens or 1%.
        ("llm_tokens", "250000", "252500", "matched"),
        ("llm_tokens", "250000", "252600", "mismatched"),
        ("llm_tokens", "1500", "500", "matched"),
        ("llm_tokens", "1501", "500", "mismatched"),
    ],
)
def test_a_difference_within_tolerance_matches_and_beyond_it_mismatches(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, metric: str, internal: str, provider: str, kind: str
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, metric, internal, D1)
    _reported(db, ws, metric, provider, D1, provider="openai")

    result = _run(rpc, D1, D2)

    expected = (1, 0, 0, 0) if kind == "matched" else (0, 1, 0, 0)
    assert _counts(result) == expected
    items = _items(db, result["run_id"])
    assert [i[3] for i in items] == ([] if kind == "matched" else ["mismatched"])
    if items:
        assert items[0][6] == Decimal(internal) - Decimal(provider)


def test_a_metric_without_a_tolerance_row_is_compared_exactly(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    db.execute("delete from public.reconciliation_tolerances where metric = 'messages'")
    ws = _workspace(factories, db)
    _used(db, ws, "messages", "100.5", D1, source="whatsapp")
    _reported(db, ws, "messages", 100, D1, provider="meta")
    _used(db, ws, "messages", 7, D2, source="messenger")
    _reported(db, ws, "messages", 7, D2, provider="meta")

    result = _run(rpc, D1, D3)

    assert _counts(result) == (1, 1, 0, 0)
    tolerances = scalar(
        db,
        "select tolerances -> 'messages' from public.reconciliation_runs where id = %s", (result["run_id"],)
    )
    assert tolerances == {"absolute": 0, "relative": 0, "reports_expected": False, "internal_sources": None}


def test_messages_compare_only_the_sources_meta_bills_for(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "messages", 30, D1, source="whatsapp")
    _used(db, ws, "messages", 10, D1, source="messenger")
    _used(db, ws, "messages", 50, D1, source="webchat")  # no provider bills web chat
    _reported(db, ws, "messages", 40, D1, provider="meta")

    scoped = _run(rpc, D1, D2)
    db.execute("update public.reconciliation_tolerances set internal_sources = null where metric = 'messages'")
    unscoped = _run(rpc, D1, D2)

    assert _counts(scoped) == (1, 0, 0, 0)
    assert _counts(unscoped) == (0, 1, 0, 0)
    assert [(i[3], i[4], i[5]) for i in _items(db, unscoped["run_id"])] == [
        ("mismatched", Decimal(90), Decimal(40))
    ]


def test_several_providers_of_one_metric_are_added_up(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "llm_tokens", 60000, D1)
    _reported(db, ws, "llm_tokens", 35000, D1, provider="openai")
    _reported(db, ws, "llm_tokens", 25000, D1, provider="anthropic")
    _used(db, ws, "llm_tokens", 10000, D2)
    _reported(db, ws, "llm_tokens", 5000, D2, provider="openai")
    _reported(db, ws, "llm_tokens", 1000, D2, provider="anthropic")

    result = _run(rpc, D1, D3)

    assert _counts(result) == (1, 1, 0, 0)
    assert _items(db, result["run_id"]) == [
        (ws.id, "llm_tokens", D2, "mismatched", Decimal(10000), Decimal(6000), Decimal(4000), ["anthropic", "openai"])
    ]


def test_a_metric_whose_reports_are_expected_is_missing_at_the_provider_when_none_were_imported(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "sms", 3, D1)
    _used(db, ws, "sms", 2, D2)
    _used(db, ws, "messages", 9, D1)  # reports not expected, none imported: not compared

    result = _run(rpc, D1, D3)

    assert _counts(result) == (0, 0, 0, 2)
    assert "sms" in result["metrics"] and "messages" not in result["metrics"]
    assert result["unreconciled_metrics"] == ["messages"]
    assert [(i[1], i[2], i[3]) for i in _items(db, result["run_id"])] == [
        ("sms", D1, "missing_provider"),
        ("sms", D2, "missing_provider"),
    ]


def test_usage_is_counted_on_its_utc_day_whatever_the_session_time_zone(
    connect: Connect, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "sms", 1, datetime.datetime(2026, 11, 10, 23, 59, 59, tzinfo=UTC))
    _used(db, ws, "sms", 1, datetime.datetime(2026, 11, 11, 0, 0, 0, tzinfo=UTC))
    _used(db, ws, "sms", 1, datetime.datetime(2026, 11, 11, 23, 59, 59, 999999, tzinfo=UTC))
    _used(db, ws, "sms", 5, datetime.datetime(2026, 11, 12, 0, 0, 0, tzinfo=UTC))  # outside [D1, D3)
    _reported(db, ws, "sms", 1, D1)
    _reported(db, ws, "sms", 2, D2)
    conn = connect()
    conn.execute("set timezone = 'Pacific/Kiritimati'")  # UTC+14: local days differ from UTC days

    result = scalar(conn, "select public.run_reconciliation(%s, %s)", (D1, D3))

    assert _counts(result) == (2, 0, 0, 0)


def test_a_period_across_a_month_boundary_counts_both_months(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "sms", 3, datetime.datetime(2026, 10, 31, 23, 30, tzinfo=UTC))  # billing period October
    _used(db, ws, "sms", 4, datetime.datetime(2026, 11, 1, 0, 30, tzinfo=UTC))  # billing period November
    _reported(db, ws, "sms", 3, datetime.date(2026, 10, 31))
    _reported(db, ws, "sms", 9, datetime.date(2026, 11, 1))

    result = _run(rpc, datetime.date(2026, 10, 31), datetime.date(2026, 11, 2))

    assert _counts(result) == (1, 1, 0, 0)
    assert [(i[2], i[4], i[5]) for i in _items(db, result["run_id"])] == [
        (datetime.date(2026, 11, 1), Decimal(4), Decimal(9))
    ]


def test_rerunning_a_period_gives_the_same_report_and_raises_one_alert(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)
    _reported(db, ws, "call_minutes", 20, D1)
    _used(db, ws, "call_minutes", 3, D2)
    _reported(db, ws, "sms", 2, D2)

    first = _run(rpc)
    second = _run(rpc)

    assert second["run_id"] != first["run_id"]
    assert _counts(second) == _counts(first) == (0, 1, 1, 1)
    assert _items(db, second["run_id"]) == _items(db, first["run_id"])
    assert len(_items(db, first["run_id"])) == 3
    alerts = db.execute(
        "select id, type, severity, workspace_id, details ->> 'run_id' from public.alerts"
        " where type = 'reconciliation_mismatch'"
    ).fetchall()
    assert alerts == [(first["alert_id"], "reconciliation_mismatch", "warning", None, str(first["run_id"]))]
    assert second["alert_id"] == first["alert_id"]
    runs = db.execute(
        "select id, alert_id from public.reconciliation_runs where period_start = %s and period_end = %s order by id",
        (D1, END),
    ).fetchall()
    assert runs == [(first["run_id"], first["alert_id"]), (second["run_id"], first["alert_id"])]


def _alerts(db: psycopg.Connection) -> list[tuple]:
    return db.execute(
        """
        select id, details -> 'days', details -> 'open_days', resolved_at is not null, resolved_by, resolution
        from public.alerts where type = 'reconciliation_mismatch' order by id
        """
    ).fetchall()


def test_an_acknowledged_alert_stays_open_and_a_rerun_raises_no_second_one(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)
    first = _run(rpc, D1, D2)
    db.execute("update public.alerts set acknowledged_at = now() where id = %s", (first["alert_id"],))

    second = _run(rpc, D1, D2)

    assert second["alert_id"] == first["alert_id"]
    assert _alerts(db) == [(first["alert_id"], ["2026-11-10"], ["2026-11-10"], False, None, None)]


def test_a_clean_rerun_of_a_period_resolves_its_alert_and_keeps_it_as_history(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)
    _reported(db, ws, "call_minutes", 12, D1)
    first = _run(rpc, D1, D2)
    assert first["alert_id"] is not None
    db.execute("update public.provider_usage_reports set quantity = 10")  # the provider's corrected report

    clean = _run(rpc, D1, D2)

    assert _counts(clean) == (1, 0, 0, 0) and clean["alert_id"] is None
    assert _alerts(db) == [
        (first["alert_id"], ["2026-11-10"], [], True, None, f"auto: clean re-run (reconciliation run {clean['run_id']})")
    ]


def test_a_multi_day_rerun_alerts_only_for_days_not_alerted_yet(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    for day in (D1, D2, D3):
        _used(db, ws, "call_minutes", 10, day)  # no provider report: missing_provider every day
    night1, night2 = _run(rpc, D1, D2), _run(rpc, D2, D3)

    rerun = _run(rpc, D1, END)

    assert _counts(rerun) == (0, 0, 0, 3)
    assert len({night1["alert_id"], night2["alert_id"], rerun["alert_id"]}) == 3
    assert [(days, open_days, resolved) for _, days, open_days, resolved, _, _ in _alerts(db)] == [
        (["2026-11-10"], ["2026-11-10"], False),
        (["2026-11-11"], ["2026-11-11"], False),
        (["2026-11-12"], ["2026-11-12"], False),
    ]
    assert _run(rpc, D1, END)["alert_id"] == night1["alert_id"]  # once more: nothing new
    assert len(_alerts(db)) == 3


def test_an_alert_over_several_days_resolves_once_every_day_is_clean(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    for day in (D1, D2):
        _used(db, ws, "call_minutes", 10, day)
        _reported(db, ws, "call_minutes", 20, day)
    alert_id = _run(rpc, D1, D3)["alert_id"]
    db.execute("update public.provider_usage_reports set quantity = 10 where usage_date = %s", (D1,))

    assert _run(rpc, D1, D2)["alert_id"] is None
    assert _alerts(db) == [(alert_id, ["2026-11-10", "2026-11-11"], ["2026-11-11"], False, None, None)]
    # a clean day outside the alert's days changes nothing; the last day clean resolves it
    db.execute("update public.provider_usage_reports set quantity = 10")
    last = _run(rpc, D2, END)
    assert _alerts(db)[0][2:] == ([], True, None, f"auto: clean re-run (reconciliation run {last['run_id']})")


def test_a_period_where_everything_matches_raises_no_alert(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)
    _reported(db, ws, "call_minutes", 10, D1)

    result = _run(rpc, D1, D2)

    assert _counts(result) == (1, 0, 0, 0)
    assert result["alert_id"] is None
    assert scalar(db, "select count(*) from public.alerts") == 0
    assert _items(db, result["run_id"]) == []


def test_every_run_is_logged_in_job_runs(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)

    result = _run(rpc, D1, D2)

    logged = one(
        db,
        "select job_name, status, params, result, errors, started_by_role, finished_at is not null"
        " from public.job_runs where id = %s",
        (result["job_run_id"],),
    )
    assert logged[:3] == ("reconciliation", "succeeded", {"period_start": "2026-11-10", "period_end": "2026-11-11"})
    assert logged[3] == {k: v for k, v in result.items() if k != "status"}
    assert logged[4:] == ([], "service_role", True)
    assert db.execute(
        "select job_run_id, status from public.reconciliation_runs where id = %s", (result["run_id"],)
    ).fetchone() == (result["job_run_id"], "succeeded")


def test_a_failing_metric_is_recorded_and_the_other_metrics_still_commit(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)
    _reported(db, ws, "call_minutes", 20, D1)
    _used(db, ws, "sms", 4, D1)
    _reported(db, ws, "sms", 9, D1)
    db.execute(
        """
        create function public.refuse_sms_items() returns trigger language plpgsql as
        $$ begin raise exception 'sms items are frozen for an audit'; end $$
        """
    )
    db.execute(
        "create trigger refuse_sms_items before insert on public.reconciliation_items"
        " for each row when (new.metric = 'sms') execute function public.refuse_sms_items()"
    )

    result = _run(rpc, D1, D2)

    assert result["status"] == "partial"
    assert result["errors"] == [{"step": "sms", "sqlstate": "P0001", "message": "sms items are frozen for an audit"}]
    assert _counts(result) == (0, 1, 0, 0)  # sms left out of the counts
    assert [(i[1], i[3]) for i in _items(db, result["run_id"])] == [("call_minutes", "mismatched")]
    assert db.execute(
        "select status, mismatched from public.reconciliation_runs where id = %s", (result["run_id"],)
    ).fetchone() == ("partial", 1)
    assert db.execute("select status, errors from public.job_runs where id = %s", (result["job_run_id"],)).fetchone() == (
        "partial",
        result["errors"],
    )
    assert scalar(
        db,
        "select count(*) from public.alerts where dedupe_key = 'job_failure:reconciliation'"
    ) == 1


TODAY = datetime.datetime.now(UTC).date()


@pytest.mark.parametrize(
    ("start", "end", "word"),
    [
        (None, D2, "period_required"),
        (D1, None, "period_required"),
        (D1, D1, "invalid_period"),
        (D2, D1, "invalid_period"),
        (D1 - datetime.timedelta(days=94), D1, "period_too_long"),
        (TODAY, TODAY + datetime.timedelta(days=1), "period_not_ended"),
        (TODAY - datetime.timedelta(days=1), TODAY + datetime.timedelta(days=1), "period_not_ended"),
    ],
)
def test_bad_input_is_refused_with_22023_and_writes_nothing(
    rpc: Rpc, db: psycopg.Connection, factories: Factories, start: datetime.date | None, end: datetime.date | None, word: str
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)
    before = _written(db)

    with pytest.raises(RpcError) as err:
        _run(rpc, start, end)

    assert (err.value.sqlstate, err.value.message, err.value.status) == ("22023", word, 400)
    assert _written(db) == before == {"job_runs": 0, "reconciliation_runs": 0, "reconciliation_items": 0, "alerts": 0}


def test_the_longest_period_and_yesterday_are_accepted(rpc: Rpc, db: psycopg.Connection) -> None:
    longest = _run(rpc, D1 - datetime.timedelta(days=93), D1)
    yesterday = _run(rpc, TODAY - datetime.timedelta(days=1), TODAY)

    assert longest["status"] == yesterday["status"] == "succeeded"


@pytest.mark.parametrize("caller", ["anon", "authenticated", "platform_admin"])
def test_only_service_role_runs_it(rpc: Rpc, db: psycopg.Connection, factories: Factories, caller: str) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)
    jwt = {
        "anon": ANON,
        "authenticated": user(factories.member(ws, "admin").id),
        "platform_admin": user(factories.platform_admin().id),
    }[caller]

    with pytest.raises(RpcError) as err:
        _run(rpc, as_=jwt)

    assert err.value.sqlstate == "42501"
    assert _written(db) == {"job_runs": 0, "reconciliation_runs": 0, "reconciliation_items": 0, "alerts": 0}


def _import(db: psycopg.Connection, ws: Workspace, quantity: int, ref: str) -> None:
    """A backend's (re-)import of one report line, as PostgREST's merge-duplicates upsert sends it."""
    with acting_as(db, SERVICE_ROLE):
        db.execute(
            """
            insert into public.provider_usage_reports (provider, workspace_id, metric, usage_date, quantity, report_ref)
            values ('twilio', %s, 'call_minutes', %s, %s, %s)
            on conflict (provider, workspace_id, metric, usage_date)
            do update set quantity = excluded.quantity, report_ref = excluded.report_ref
            """,
            (ws.id, D1, quantity, ref),
        )


def test_a_reimport_of_a_report_line_replaces_it(rpc: Rpc, db: psycopg.Connection, factories: Factories) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 12, D1)
    _import(db, ws, 10, "UR1")
    first_import = one(db, "select imported_at, updated_at from public.provider_usage_reports")
    assert _counts(_run(rpc, D1, D2)) == (0, 1, 0, 0)

    _import(db, ws, 12, "UR2")

    rows = db.execute("select quantity, report_ref, imported_at, updated_at from public.provider_usage_reports").fetchall()
    assert len(rows) == 1
    assert rows[0][:3] == (Decimal(12), "UR2", first_import[0])
    assert rows[0][3] > first_import[1]
    assert _counts(_run(rpc, D1, D2)) == (1, 0, 0, 0)


def test_backends_cannot_delete_report_lines(db: psycopg.Connection, factories: Factories) -> None:
    ws = _workspace(factories, db)
    _import(db, ws, 10, "UR1")

    with pytest.raises(psycopg.errors.InsufficientPrivilege), acting_as(db, SERVICE_ROLE):
        db.execute("delete from public.provider_usage_reports")

    assert scalar(db, "select count(*) from public.provider_usage_reports") == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [("quantity", -1), ("quantity", Decimal("NaN")), ("provider", "Twilio Inc"), ("metric", "minutes"), ("report_ref", "")],
)
def test_report_lines_refuse_bad_values(db: psycopg.Connection, factories: Factories, column: str, value: Any) -> None:
    ws = _workspace(factories, db)
    line = {"provider": "twilio", "workspace_id": ws.id, "metric": "sms", "usage_date": D1, "quantity": 1}
    line[column] = value

    with pytest.raises((psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation)), acting_as(db, SERVICE_ROLE):
        db.execute(
            f"insert into public.provider_usage_reports ({', '.join(line)}) values ({', '.join(['%s'] * len(line))})",
            list(line.values()),
        )

    assert scalar(db, "select count(*) from public.provider_usage_reports") == 0


def test_retention_of_old_job_runs_keeps_the_reconciliation_report(
    rpc: Rpc, db: psycopg.Connection, factories: Factories
) -> None:
    ws = _workspace(factories, db)
    _used(db, ws, "call_minutes", 10, D1)
    result = _run(rpc, D1, D2)
    db.execute("update public.job_runs set started_at = now() - interval '400 days' where id = %s", (result["job_run_id"],))

    cleanup = rpc("run_retention_cleanup")

    assert cleanup["status"] == "succeeded" and cleanup["deleted"]["job_runs"] == 1
    assert db.execute(
        "select job_run_id, missing_provider from public.reconciliation_runs where id = %s", (result["run_id"],)
    ).fetchone() == (None, 1)
    assert len(_items(db, result["run_id"])) == 1


@pytest.mark.opsdb_needs("pg_cron")
def test_the_nightly_job_reconciles_yesterday(db: psycopg.Connection, factories: Factories) -> None:
    yesterday = TODAY - datetime.timedelta(days=1)
    ws = _workspace(factories, db)
    _used(db, ws, "sms", 2, yesterday)
    _reported(db, ws, "sms", 2, yesterday)
    schedule, command = one(db, "select schedule, command from cron.job where jobname = 'reconciliation'")

    db.execute(command)

    assert schedule == "30 4 * * *"
    assert db.execute(
        "select period_start, period_end, status, matched from public.reconciliation_runs"
    ).fetchall() == [(yesterday, TODAY, "succeeded", 1)]
