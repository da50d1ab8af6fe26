"""check_rate_limit / enforce_rate_limit: plan-based fixed windows, 429 with Retry-After, fail-open."""

from __future__ import annotations

import pytest

from harness.rpc import RpcError


def _exhaust(rpc, ws, n: int) -> list[dict]:  # type: ignore[no-untyped-def]
    return [rpc("check_rate_limit", {"workspace_id": str(ws.id), "bucket": "api"}) for _ in range(n)]


def test_free_and_paid_plans_get_different_rate_limits(rpc, factories) -> None:  # type: ignore[no-untyped-def]
    free, pro = factories.workspace(), factories.workspace(plan_key="pro")

    free_answer = rpc("check_rate_limit", {"workspace_id": str(free.id)})
    pro_answer = rpc("check_rate_limit", {"workspace_id": str(pro.id)})

    assert (free_answer["limit"], free_answer["remaining"], free_answer["allowed"]) == (60, 59, True)
    assert (pro_answer["limit"], pro_answer["remaining"], pro_answer["allowed"]) == (600, 599, True)
    # 61 requests: the free plan refuses the 61st, the pro plan does not
    assert _exhaust(rpc, free, 60)[-1]["allowed"] is False
    assert all(a["allowed"] for a in _exhaust(rpc, pro, 60))


def test_refusal_reports_retry_after_and_is_not_counted(rpc, factories, db) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    answers = _exhaust(rpc, ws, 63)

    assert [a["allowed"] for a in answers] == [True] * 60 + [False] * 3
    refused = answers[-1]
    assert refused["remaining"] == 0
    assert 1 <= refused["retry_after"] <= 60
    hits = db.execute("select hits from private.rate_limit_counters where workspace_id = %s", (ws.id,)).fetchone()[0]
    assert hits == 61  # refused requests stop counting at limit + 1


def test_check_rate_limit_sets_rate_limit_response_headers(rpc, factories) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    response = rpc.response("check_rate_limit", {"workspace_id": str(ws.id)})
    assert response.status == 200
    assert response.headers["X-RateLimit-Limit"] == "60"
    assert response.headers["X-RateLimit-Remaining"] == "59"
    assert "Retry-After" not in response.headers


def test_enforce_rate_limit_answers_429_with_retry_after(rpc, factories) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    for _ in range(60):
        assert rpc("enforce_rate_limit", {"workspace_id": str(ws.id)})["allowed"] is True

    with pytest.raises(RpcError) as caught:
        rpc("enforce_rate_limit", {"workspace_id": str(ws.id)})

    err = caught.value
    assert (err.sqlstate, err.status, err.message) == ("PT429", 429, "rate_limited")
    assert 1 <= int(err.headers["Retry-After"]) <= 60
    assert err.headers["X-RateLimit-Limit"] == "60"
    assert str(ws.id) in (err.detail or "")


def test_buckets_are_counted_separately(rpc, factories) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    _exhaust(rpc, ws, 61)
    answer = rpc("check_rate_limit", {"workspace_id": str(ws.id), "bucket": "messages"})
    assert (answer["allowed"], answer["limit"]) == (True, 30)


def test_a_broken_limiter_fails_open_and_says_why(rpc, factories, db) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    _exhaust(rpc, ws, 61)
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
def test_rate_limit_bad_input_is_refused(rpc, factories, args, sqlstate, message) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    with pytest.raises(RpcError) as caught:
        rpc("check_rate_limit", {"workspace_id": str(ws.id), **args})
    assert (caught.value.sqlstate, caught.value.message) == (sqlstate, message)


def test_rate_limit_for_an_unknown_workspace_is_not_found(rpc) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RpcError) as caught:
        rpc("check_rate_limit", {"workspace_id": "00000000-0000-4000-8000-000000000000"})
    assert (caught.value.sqlstate, caught.value.status) == ("PT404", 404)


def test_only_service_role_may_check_rate_limits(rpc, factories) -> None:  # type: ignore[no-untyped-def]
    ws = factories.workspace()
    for fn in ("check_rate_limit", "enforce_rate_limit"):
        with pytest.raises(RpcError) as caught:
            rpc(fn, {"workspace_id": str(ws.id)}, as_=ws.owner.jwt)
        assert caught.value.sqlstate == "42501"


def test_rate_limit_counters_are_unlogged_and_private(db) -> None:  # type: ignore[no-untyped-def]
    persistence, = db.execute(
        "select relpersistence from pg_class where oid = 'private.rate_limit_counters'::regclass"
    ).fetchone()
    assert persistence == "u"
    for role in ("anon", "authenticated", "service_role"):
        assert db.execute(
            "select has_table_privilege(%s, 'private.rate_limit_counters', 'select')", (role,)
        ).fetchone()[0] is False
