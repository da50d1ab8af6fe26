"""rpc() behaves like PostgREST: statuses from SQLSTATEs, roles, claims, headers."""

from __future__ import annotations

import psycopg
import pytest

from harness.factories import Factories
from harness.rpc import ANON, RpcError, http_status
from harness.testing import Rpc


@pytest.mark.parametrize(
    ("sqlstate", "authenticated", "status"),
    [
        ("22023", True, 400),
        ("22P02", True, 400),
        ("23505", True, 409),
        ("23503", True, 409),
        ("23514", True, 400),
        ("42501", True, 403),
        ("42501", False, 401),
        ("PT401", True, 401),
        ("PT402", True, 402),
        ("PT404", True, 404),
        ("PT409", True, 409),
        ("PT429", True, 429),
        ("P0001", True, 400),
        ("42883", True, 404),
        ("40001", True, 500),
        ("53300", True, 503),
        ("08006", True, 503),
    ],
)
def test_sqlstate_maps_to_postgrest_http_status(sqlstate: str, authenticated: bool, status: int) -> None:
    assert http_status(sqlstate, authenticated=authenticated) == status


@pytest.fixture
def probe_functions(db: psycopg.Connection) -> None:
    db.execute(
        """
        create function public.probe_whoami(greeting text, times integer default 1)
        returns jsonb language sql stable set search_path = '' as $$
            select jsonb_build_object(
                'greeting', repeat(greeting, times),
                'role', current_user,
                'uid', auth.uid(),
                'claims_role', auth.jwt() ->> 'role',
                'aal', auth.jwt() ->> 'aal',
                'method', current_setting('request.method', true),
                'path', current_setting('request.path', true),
                'header', current_setting('request.headers', true)::jsonb ->> 'x-probe'
            )
        $$;
        grant execute on function public.probe_whoami(text, integer) to authenticated, service_role;

        create function public.probe_fail(code text) returns void language plpgsql set search_path = '' as $$
        begin
            raise exception using errcode = code, message = 'probe_failed', detail = 'code ' || code;
        end $$;
        grant execute on function public.probe_fail(text) to authenticated, service_role, anon;

        create function public.probe_headers() returns jsonb language plpgsql set search_path = '' as $$
        begin
            perform set_config('response.headers', '[{"Retry-After": "7"}, {"X-Probe": "yes"}]', true);
            return '{"ok": true}';
        end $$;
        grant execute on function public.probe_headers() to service_role;

        create function public.probe_pgrst_429() returns void language plpgsql set search_path = '' as $$
        begin
            raise sqlstate 'PGRST' using
                message = '{"code": "PT429", "message": "rate_limited"}',
                detail = '{"status": 429, "headers": {"Retry-After": "3"}}';
        end $$;
        grant execute on function public.probe_pgrst_429() to service_role;
        """
    )


def test_named_arguments_claims_and_request_settings(rpc: Rpc, probe_functions: None, factories: Factories) -> None:
    someone = factories.user()

    result = rpc("probe_whoami", {"greeting": "hi", "times": 2}, as_=someone.jwt, headers={"X-Probe": "p"})

    assert result == {
        "greeting": "hihi",
        "role": "authenticated",
        "uid": str(someone.id),
        "claims_role": "authenticated",
        "aal": "aal1",
        "method": "POST",
        "path": "/rpc/probe_whoami",
        "header": "p",
    }
    assert rpc("probe_whoami", {"greeting": "x"})["role"] == "service_role"


@pytest.mark.parametrize(("code", "status"), [("PT402", 402), ("22023", 400), ("PT409", 409), ("PT404", 404)])
def test_errors_carry_sqlstate_and_http_status(rpc: Rpc, probe_functions: None, code: str, status: int) -> None:
    with pytest.raises(RpcError) as caught:
        rpc("probe_fail", {"code": code})
    assert (caught.value.sqlstate, caught.value.status, caught.value.message) == (code, status, "probe_failed")
    assert caught.value.detail == f"code {code}"


def test_missing_grant_is_403_for_users_and_401_for_anon(rpc: Rpc, probe_functions: None, factories: Factories) -> None:
    with pytest.raises(RpcError) as as_user:
        rpc("probe_headers", as_=factories.user().jwt)
    with pytest.raises(RpcError) as as_anon:
        rpc("probe_headers", as_=ANON)
    assert (as_user.value.sqlstate, as_user.value.status) == ("42501", 403)
    assert (as_anon.value.sqlstate, as_anon.value.status) == ("42501", 401)


def test_response_headers_set_by_the_function_are_exposed(rpc: Rpc, probe_functions: None) -> None:
    response = rpc.response("probe_headers")
    assert response.status == 200
    assert response.data == {"ok": True}
    assert response.headers == {"Retry-After": "7", "X-Probe": "yes"}


def test_pgrst_raise_sets_status_and_headers_of_an_error(rpc: Rpc, probe_functions: None) -> None:
    with pytest.raises(RpcError) as caught:
        rpc("probe_pgrst_429")
    assert (caught.value.sqlstate, caught.value.status, caught.value.message) == ("PT429", 429, "rate_limited")
    assert caught.value.headers == {"Retry-After": "3"}


def test_unknown_function_or_arguments_is_404(rpc: Rpc, probe_functions: None) -> None:
    with pytest.raises(RpcError) as caught:
        rpc("probe_whoami", {"nope": 1})
    assert caught.value.status == 404
    with pytest.raises(RpcError):
        rpc("no_such_function")


def test_a_failed_call_rolls_back_its_writes(rpc: Rpc, db: psycopg.Connection, probe_functions: None) -> None:
    db.execute("create table public.probe_log (v text)")
    db.execute(
        """
        create function public.probe_write_then_fail() returns void language plpgsql set search_path = '' as $$
        begin
            insert into public.probe_log values ('written');
            raise exception using errcode = 'PT402', message = 'insufficient_credits';
        end $$;
        grant execute on function public.probe_write_then_fail() to service_role;
        """
    )
    with pytest.raises(RpcError):
        rpc("probe_write_then_fail")
    assert db.execute("select count(*) from public.probe_log").fetchone() == (0,)


def test_void_function_answers_204(rpc: Rpc, db: psycopg.Connection) -> None:
    db.execute(
        "create function public.probe_noop() returns void language sql set search_path = '' as $$ select $$;"
        " grant execute on function public.probe_noop() to service_role"
    )
    response = rpc.response("probe_noop")
    assert (response.status, response.data) == (204, None)
