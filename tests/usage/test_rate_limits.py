"""check_rate_limit / enforce_rate_limit: plan-based GCRA, exact Retry-After, 429, fail-open,
every refusal counted, one rate_limit_spike alert per workspace and bucket while a spike lasts.

The limiter decides for an instant (``private._check_rate_limit``'s ``at``; the API
passes now()). Tests that count requests against the limit name their instants
through the ``limiter`` fixture, so no assertion depends on how fast the machine
is or where a wall-clock boundary falls.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.factories import Factories
from harness.race import race_each
from harness.rows import scalar
from harness.rpc import RpcError, call
from harness.testing import Connect, Rpc
from tests.support.usage import Limiter

# Half a second before a UTC minute boundary, where a fixed window would reset.
T0 = datetime(2026, 12, 3, 10, 0, 59, 500000, tzinfo=timezone.utc)


def _us(microseconds: int) -> timedelta:
    return timedelta(microseconds=microseconds)


def _state(db: psycopg.Connection, ws: Any, bucket: str = "api") -> datetime | None:
    row = db.execute(
        "select tat from private.rate_limit_counters where workspace_id = %s and bucket = %s", (ws.id, bucket)
    ).fetchone()
    return row[0] if row else None


def _add_bucket(
    db: psycopg.Connection, bucket: str, max_requests: int, window_seconds: int, spike: int | None = None
) -> None:
    db.execute(
        "insert into public.plan_rate_limits (plan_key, bucket, max_requests, window_seconds, spike_refusals)"
        " values ('free', %s, %s, %s, %s)",
        (bucket, max_requests, window_seconds, spike),
    )


def test_free_and_paid_plans_get_different_rate_limits(limiter: Limiter, factories: Factories) -> None:
    free, pro = factories.workspace(), factories.workspace(plan_key="pro")

    free_answer = limiter.check(free.id, T0)
    pro_answer = limiter.check(pro.id, T0)

    assert (free_answer["limit"], free_answer["remaining"], free_answer["allowed"]) == (60, 59, True)
    assert (pro_answer["limit"], pro_answer["remaining"], pro_answer["allowed"]) == (600, 599, True)
    # 61 requests at one instant: the free plan refuses the 61st, the pro plan does not
    assert limiter.burst(free.id, T0, 60)[-1]["allowed"] is False
    assert all(a["allowed"] for a in limiter.burst(pro.id, T0, 60))


def test_refusal_reports_retry_after_and_is_not_counted(
    limiter: Limiter, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    answers = limiter.burst(ws.id, T0, 63)

    assert [a["allowed"] for a in answers] == [True] * 60 + [False] * 3
    assert [a["remaining"] for a in answers[:3]] == [59, 58, 57]
    refused = answers[-1]
    assert (refused["remaining"], refused["retry_after"], refused["reset_after"]) == (0, 1, 60)
    # Refused requests leave the state where the 60th put it: the allowance of one
    # step (1 s) ahead of the instant is whole again 60 s after T0.
    assert _state(db, ws) == T0 + timedelta(seconds=60)


def test_retry_after_is_exact_to_the_microsecond(
    limiter: Limiter, factories: Factories, db: psycopg.Connection
) -> None:
    # 7 requests per minute: a step of 8.571428 s (rounded down to the microsecond), so
    # 7 requests move the state 59.999996 s ahead, and the 8th fits 8.571424 s later.
    _add_bucket(db, "sevens", 7, 60)
    ws = factories.workspace()
    assert all(a["allowed"] for a in limiter.burst(ws.id, T0, 7, "sevens"))

    refused, headers = limiter.check_with_headers(ws.id, T0, "sevens")
    assert (refused["allowed"], refused["retry_after"]) == (False, 9)
    assert headers["Retry-After"] == "9" and headers["X-RateLimit-Remaining"] == "0"

    just_before = limiter.check(ws.id, T0 + _us(8_571_423), "sevens")
    on_time = limiter.check(ws.id, T0 + _us(8_571_424), "sevens")
    assert (just_before["allowed"], just_before["retry_after"]) == (False, 1)
    assert (on_time["allowed"], on_time["remaining"]) == (True, 0)
    # Retrying after the whole seconds Retry-After said always succeeds.
    ws2 = factories.workspace()
    limiter.burst(ws2.id, T0, 7, "sevens")
    wait = limiter.check(ws2.id, T0, "sevens")["retry_after"]
    assert limiter.check(ws2.id, T0 + timedelta(seconds=wait), "sevens")["allowed"] is True


def test_no_double_burst_across_a_window_boundary(limiter: Limiter, factories: Factories) -> None:
    ws = factories.workspace()
    # The whole allowance half a second before 10:01:00, then again half a second
    # after it: a fixed window of 60 s would have allowed 120 in one second.
    before = limiter.burst(ws.id, T0, 60)
    after = limiter.burst(ws.id, T0 + timedelta(seconds=1), 60)

    assert all(a["allowed"] for a in before)
    assert sum(a["allowed"] for a in after) == 1  # one step (1 s) has passed: one more request


class GcraModel:
    """The limiter's rule in Python, in integer microseconds."""

    def __init__(self, limit: int, window_seconds: int) -> None:
        self.window = window_seconds * 1_000_000
        self.step = max(self.window // limit, 1)
        self.tat: int | None = None

    def check(self, now: int) -> tuple[bool, int, int, int]:
        """(allowed, remaining, retry_after, reset_after) for a request at ``now``."""
        tat = now if self.tat is None else self.tat
        candidate = max(tat, now) + self.step
        if candidate <= now + self.window:
            self.tat = candidate
            return True, (now + self.window - candidate) // self.step, 0, max(-(-(candidate - now) // 1_000_000), 0)
        retry = max(-(-(tat + self.step - self.window - now) // 1_000_000), 1)
        return False, 0, retry, max(-(-(tat - now) // 1_000_000), 0)


BUCKETS = {"one_per_s": (1, 1), "three_per_10s": (3, 10), "sevens": (7, 60), "sixty": (60, 60)}


@pytest.fixture
def property_buckets(db: psycopg.Connection) -> None:
    for bucket, (limit, window) in BUCKETS.items():
        _add_bucket(db, bucket, limit, window)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bucket=st.sampled_from(sorted(BUCKETS)),
    gaps=st.lists(
        st.one_of(st.just(0), st.integers(0, 2_000_000), st.integers(0, 30_000_000)), min_size=1, max_size=60
    ),
)
def test_gcra_matches_its_model_and_bounds_every_window(
    limiter: Limiter, factories: Factories, property_buckets: None, bucket: str, gaps: list[int]
) -> None:
    limit, window = BUCKETS[bucket]
    model = GcraModel(limit, window)
    ws = factories.workspace()
    now, allowed_at = 0, []
    for gap in gaps:
        now += gap
        answer = limiter.check(ws.id, T0 + _us(now), bucket)
        expected = model.check(now)
        got = (answer["allowed"], answer["remaining"], answer["retry_after"], answer["reset_after"])
        assert got == expected, (now, gaps)
        if answer["allowed"]:
            allowed_at.append(now)
    # Any interval of w microseconds holds at most (w + window) / step allowed requests:
    # the limit at once, then one per step; never twice the limit in an instant.
    for i, start in enumerate(allowed_at):
        for j in range(i, len(allowed_at)):
            span = allowed_at[j] - start
            assert j - i + 1 <= (span + model.window) // model.step


def test_check_rate_limit_sets_rate_limit_response_headers(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace()
    response = rpc.response("check_rate_limit", {"workspace_id": str(ws.id)})
    assert response.status == 200
    assert response.headers["X-RateLimit-Limit"] == "60"
    assert response.headers["X-RateLimit-Remaining"] == "59"
    assert response.headers["X-RateLimit-Reset"] == "1"  # one step of the 60-per-minute allowance used
    assert "Retry-After" not in response.headers


def test_enforce_rate_limit_answers_429_with_retry_after(
    rpc: Rpc, factories: Factories, db: psycopg.Connection
) -> None:
    # One request per hour: the second, a moment later, is refused whatever the clock says.
    _add_bucket(db, "hourly", 1, 3600)
    ws = factories.workspace()
    assert rpc("enforce_rate_limit", {"workspace_id": str(ws.id), "bucket": "hourly"})["allowed"] is True

    with pytest.raises(RpcError) as caught:
        rpc("enforce_rate_limit", {"workspace_id": str(ws.id), "bucket": "hourly"})

    err = caught.value
    assert (err.sqlstate, err.status, err.message) == ("PT429", 429, "rate_limited")
    assert 3500 <= int(err.headers["Retry-After"]) <= 3600
    assert err.headers["X-RateLimit-Limit"] == "1" and err.headers["X-RateLimit-Remaining"] == "0"
    assert err.headers["X-RateLimit-Reset"] == err.headers["Retry-After"]
    assert str(ws.id) in (err.detail or "")


def test_buckets_are_counted_separately(limiter: Limiter, factories: Factories) -> None:
    ws = factories.workspace()
    limiter.burst(ws.id, T0, 61)
    answer = limiter.check(ws.id, T0, "messages")
    assert (answer["allowed"], answer["limit"]) == (True, 30)


def test_a_broken_limiter_fails_open_and_says_why(
    rpc: Rpc, limiter: Limiter, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    limiter.burst(ws.id, T0, 61)
    db.execute("alter table private.rate_limit_counters rename to rate_limit_counters_lost")

    answers = [rpc("check_rate_limit", {"workspace_id": str(ws.id)}) for _ in range(3)]
    enforced = rpc("enforce_rate_limit", {"workspace_id": str(ws.id)})

    assert all(a["allowed"] and a["fail_open"] for a in answers)
    assert enforced["allowed"] is True
    assert "rate_limit_counters" in answers[0]["error"]
    alerts = db.execute(
        "select severity, details ->> 'sqlstate', details ->> 'error' from public.alerts where type = 'rate_limiter_failed'"
    ).fetchall()
    assert len(alerts) == 1
    assert alerts[0][0] == "critical" and alerts[0][1] == "42P01"
    assert "rate_limit_counters" in alerts[0][2]


@pytest.mark.parametrize(
    ("args", "sqlstate", "message"),
    [
        ({"bucket": "nope"}, "22023", "unknown_bucket"),
        ({"bucket": None}, "22023", "invalid_argument"),
    ],
)
def test_rate_limit_bad_input_is_refused(
    rpc: Rpc, factories: Factories, args: dict[str, Any], sqlstate: str, message: str
) -> None:
    ws = factories.workspace()
    with pytest.raises(RpcError) as caught:
        rpc("check_rate_limit", {"workspace_id": str(ws.id), **args})
    assert (caught.value.sqlstate, caught.value.message) == (sqlstate, message)


def test_rate_limit_for_an_unknown_workspace_is_not_found(rpc: Rpc) -> None:
    with pytest.raises(RpcError) as caught:
        rpc("check_rate_limit", {"workspace_id": "00000000-0000-4000-8000-000000000000"})
    assert (caught.value.sqlstate, caught.value.status) == ("PT404", 404)


def test_only_service_role_may_check_rate_limits(rpc: Rpc, factories: Factories) -> None:
    ws = factories.workspace()
    for fn in ("check_rate_limit", "enforce_rate_limit"):
        with pytest.raises(RpcError) as caught:
            rpc(fn, {"workspace_id": str(ws.id)}, as_=ws.owner.jwt)
        assert caught.value.sqlstate == "42501"


def test_rate_limit_state_is_unlogged_and_private_and_refusals_are_private(db: psycopg.Connection) -> None:
    persistence = db.execute(
        "select relname, relpersistence from pg_class where oid in"
        " ('private.rate_limit_counters'::regclass, 'private.rate_limit_refusals'::regclass) order by 1"
    ).fetchall()
    assert persistence == [("rate_limit_counters", "u"), ("rate_limit_refusals", "p")]
    for role in ("anon", "authenticated", "service_role"):
        for table in ("private.rate_limit_counters", "private.rate_limit_refusals"):
            assert scalar(db, "select has_table_privilege(%s, %s, 'select')", (role, table)) is False


# --- refusals are counted; a spike raises one alert ----------------------------------------


def _refusals(db: psycopg.Connection, ws: Any, bucket: str = "api") -> list[tuple[datetime, int]]:
    return db.execute(
        "select minute, refusals from private.rate_limit_refusals where workspace_id = %s and bucket = %s order by minute",
        (ws.id, bucket),
    ).fetchall()


def _spike_alerts(db: psycopg.Connection, ws: Any) -> list[tuple[str, dict]]:
    return db.execute(
        "select dedupe_key, details from public.alerts where type = 'rate_limit_spike' and workspace_id = %s order by id",
        (ws.id,),
    ).fetchall()


def test_every_refusal_is_counted_per_workspace_bucket_and_minute(
    limiter: Limiter, factories: Factories, db: psycopg.Connection
) -> None:
    ws, other = factories.workspace(), factories.workspace()
    limiter.burst(ws.id, T0, 65)  # 5 refused in 10:00
    limiter.burst(ws.id, T0 + timedelta(seconds=1), 4)  # 1 allowed, 3 refused in 10:01
    limiter.burst(ws.id, T0, 31, "messages")  # 1 refused in the other bucket
    limiter.burst(other.id, T0, 60)  # none refused

    minute = T0.replace(second=0, microsecond=0)
    assert _refusals(db, ws) == [(minute, 5), (minute + timedelta(minutes=1), 3)]
    assert _refusals(db, ws, "messages") == [(minute, 1)]
    assert _refusals(db, other) == []
    # A day later the minute's slot is reused: the count starts again.
    limiter.burst(ws.id, T0 + timedelta(days=1), 62)
    assert _refusals(db, ws)[-1] == (minute + timedelta(days=1), 2)


def test_a_spike_of_429s_raises_one_alert_while_it_lasts(
    limiter: Limiter, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    limiter.burst(ws.id, T0, 60 + 59)  # 59 refusals: under the free api bucket's 60 per minute
    assert _spike_alerts(db, ws) == []

    limiter.burst(ws.id, T0, 1)  # the 60th refusal within the minute
    for minute in range(1, 4):  # the spike goes on for three more minutes
        limiter.burst(ws.id, T0 + timedelta(minutes=minute), 200)
    limiter.burst(ws.id, T0, 31 + 30, "messages")  # and the messages bucket spikes too (30 per minute)

    alerts = _spike_alerts(db, ws)
    assert [key for key, _ in alerts] == [f"rate_limit_spike:{ws.id}:api", f"rate_limit_spike:{ws.id}:messages"]
    assert alerts[0][1]["refusals_in_minute"] == 60 and alerts[0][1]["bucket"] == "api"

    # Acknowledged, it stays the one open alert: another spike minute raises nothing new.
    db.execute("update public.alerts set acknowledged_at = now() where workspace_id = %s", (ws.id,))
    limiter.burst(ws.id, T0 + timedelta(hours=1), 60 + 60)
    assert len(_spike_alerts(db, ws)) == 2


def test_a_spike_alert_resolves_itself_once_refusals_have_stopped_for_5_minutes(
    limiter: Limiter, factories: Factories, db: psycopg.Connection
) -> None:
    ws = factories.workspace()
    now = scalar(db, "select now()")
    limiter.burst(ws.id, now - timedelta(minutes=20), 60 + 60)  # api: a spike 20 minutes ago, over since
    limiter.burst(ws.id, now, 30 + 30, "messages")  # messages: a spike going on now

    def open_spikes() -> list[str]:
        return [
            r[0]
            for r in db.execute(
                "select details ->> 'bucket' from public.alerts"
                " where type = 'rate_limit_spike' and workspace_id = %s and resolved_at is null order by id",
                (ws.id,),
            ).fetchall()
        ]

    assert open_spikes() == ["api", "messages"]
    result = scalar(db, "select private.resolve_cleared_alerts()")
    assert result["by_type"]["rate_limit_spike"] >= 1
    assert open_spikes() == ["messages"]
    resolved = db.execute(
        "select resolved_by, resolution from public.alerts"
        " where type = 'rate_limit_spike' and workspace_id = %s and resolved_at is not null",
        (ws.id,),
    ).fetchall()
    assert resolved == [(None, "auto: no request of bucket api refused for 5 minutes")]

    # The sweep again changes nothing; a new api spike raises a new alert.
    db.execute("select private.resolve_cleared_alerts()")
    assert open_spikes() == ["messages"]
    limiter.burst(ws.id, now, 60 + 60)
    assert open_spikes() == ["api", "messages"] or open_spikes() == ["messages", "api"]
    assert len(_spike_alerts(db, ws)) == 3


def test_the_spike_threshold_comes_from_the_plan(
    limiter: Limiter, factories: Factories, db: psycopg.Connection
) -> None:
    _add_bucket(db, "touchy", 1, 60, spike=3)
    ws = factories.workspace()
    limiter.burst(ws.id, T0, 1 + 2, "touchy")
    assert _spike_alerts(db, ws) == []
    limiter.burst(ws.id, T0, 1, "touchy")
    assert [d["refusals_in_minute"] for _, d in _spike_alerts(db, ws)] == [3]


def test_concurrent_refusals_raise_one_spike_alert(
    connect: Connect, factories: Factories, db: psycopg.Connection
) -> None:
    _add_bucket(db, "tiny", 1, 3600, spike=20)
    ws = factories.workspace()
    conns = [connect() for _ in range(8)]

    def worker(conn: psycopg.Connection) -> list[bool]:
        return [
            call(conn, "check_rate_limit", {"workspace_id": str(ws.id), "bucket": "tiny"}).data["allowed"]
            for _ in range(10)
        ]

    answers = [allowed for per_conn in race_each(conns, worker, timeout=60) for allowed in per_conn]

    assert sorted(answers) == [False] * 79 + [True]
    total = scalar(
        db,
        "select sum(refusals) from private.rate_limit_refusals where workspace_id = %s and bucket = 'tiny'", (ws.id,)
    )
    assert total == 79  # every refusal counted (a minute boundary may split them over two rows)
    assert len(_spike_alerts(db, ws)) == 1
