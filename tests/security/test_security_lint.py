"""Security lint: the migrated database checked against the project's rules.

The checks live in harness/audit/security.py (``opsdb audit`` runs them on live
databases); here each must hold on the migrated test database, and each must
name a violation planted for it.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from harness.audit.security import (
    SECURITY_CHECKS,
    api_roles_with_trigger_or_references,
    calls_outside_subselect,
    definer_functions_in_public,
    definer_functions_without_empty_search_path,
    extensions_in_public,
    foreign_keys_without_index,
    functions_anon_can_execute,
    functions_without_pinned_search_path,
    policies_for_all_or_not_authenticated,
    policies_with_per_row_calls,
    policy_id_columns_without_index,
    read_policies_checking_membership_per_row,
    relations_anon_can_touch,
    sequences_anon_can_use,
    tables_without_rls_or_policy,
    views_without_security_invoker,
)


def test_every_public_table_has_rls_enabled_and_a_policy(db: psycopg.Connection) -> None:
    assert tables_without_rls_or_policy(db) == []


def test_every_function_pins_search_path(db: psycopg.Connection) -> None:
    assert functions_without_pinned_search_path(db) == []


def test_only_an_owner_only_procedure_may_leave_search_path_unpinned(db: psycopg.Connection) -> None:
    # A procedure that COMMITs cannot carry SET search_path; it passes only while no
    # API role can call it (so no caller chooses its search_path) and it is an invoker.
    make = "create procedure private.lint_probe() language plpgsql as 'begin commit; end'"
    with db.transaction(force_rollback=True):
        db.execute(make)
        db.execute("revoke all on procedure private.lint_probe() from public")
        owner_only = functions_without_pinned_search_path(db)
        db.execute("grant execute on procedure private.lint_probe() to service_role")
        callable_by_api = functions_without_pinned_search_path(db)
    with db.transaction(force_rollback=True):
        db.execute(make.replace("language plpgsql", "language plpgsql security definer"))
        db.execute("revoke all on procedure private.lint_probe() from public")
        definer = functions_without_pinned_search_path(db)
    assert "private.lint_probe()" not in owner_only
    assert "private.lint_probe()" in callable_by_api
    assert "private.lint_probe()" in definer


def test_no_security_definer_function_in_public(db: psycopg.Connection) -> None:
    assert definer_functions_in_public(db) == []


def test_no_public_function_is_executable_by_public_or_anon(db: psycopg.Connection) -> None:
    assert functions_anon_can_execute(db) == []


def test_every_view_is_security_invoker(db: psycopg.Connection) -> None:
    assert views_without_security_invoker(db) == []


def test_every_foreign_key_has_a_covering_index(db: psycopg.Connection) -> None:
    assert foreign_keys_without_index(db) == []


def test_no_extension_lives_in_public(db: psycopg.Connection) -> None:
    assert extensions_in_public(db) == []


@pytest.mark.parametrize(
    ("expression", "outside"),
    [
        ("(user_id = ( SELECT auth.uid() AS uid))", []),
        ("(user_id = auth.uid())", ["auth.uid"]),
        ("((auth.jwt() ->> 'role'::text) = 'admin'::text)", ["auth.jwt"]),
        ("(( SELECT private.is_admin() AS is_admin) OR (owner_id = ( SELECT auth.uid() AS uid)))", []),
        ("(tenant = (current_setting('app.tenant'::text))::uuid)", ["current_setting"]),
        ("(note = 'auth.uid() ('::text)", []),
    ],
)
def test_policy_expression_checker_finds_per_row_calls(expression: str, outside: list[str]) -> None:
    assert calls_outside_subselect(expression) == outside


def test_policies_call_auth_and_settings_only_inside_sub_selects(db: psycopg.Connection) -> None:
    assert policies_with_per_row_calls(db) == []


def test_anon_has_no_privilege_on_any_public_relation(db: psycopg.Connection) -> None:
    assert relations_anon_can_touch(db) == []


def test_api_roles_hold_no_trigger_or_references_privilege(db: psycopg.Connection) -> None:
    assert api_roles_with_trigger_or_references(db) == []


def test_a_column_level_references_grant_is_found_too(db: psycopg.Connection) -> None:
    with db.transaction(force_rollback=True):
        db.execute("grant references (workspace_id) on public.wallet_ledger to service_role")
        assert "wallet_ledger (service_role: REFERENCES)" in api_roles_with_trigger_or_references(db)


def test_anon_can_use_no_sequence(db: psycopg.Connection) -> None:
    assert sequences_anon_can_use(db) == []


def test_every_definer_function_runs_with_an_empty_search_path(db: psycopg.Connection) -> None:
    assert definer_functions_without_empty_search_path(db) == []


def test_policies_are_one_per_command_and_for_authenticated(db: psycopg.Connection) -> None:
    assert policies_for_all_or_not_authenticated(db) == []


def test_id_columns_that_policies_filter_on_are_indexed(db: psycopg.Connection) -> None:
    assert policy_id_columns_without_index(db) == []


def test_read_policies_check_membership_once_per_statement(db: psycopg.Connection) -> None:
    assert read_policies_checking_membership_per_row(db) == []


def test_every_check_is_in_the_audit() -> None:
    # opsdb audit runs SECURITY_CHECKS on live databases: none of the rules above may be left out of it.
    assert {c.find for c in SECURITY_CHECKS} == set(PLANTED)


# Each check, shown a planted violation, names it: the checks above pass because
# the schema is clean, not because they cannot see.
PLANTED = {
    tables_without_rls_or_policy: (
        "create table public.lint_probe (id int primary key); alter table public.lint_probe enable row level security",
        "lint_probe (no policy)",
    ),
    functions_without_pinned_search_path: (
        "create function private.lint_probe() returns int language sql as 'select 1'",
        "private.lint_probe()",
    ),
    definer_functions_in_public: (
        "create function public.lint_probe() returns int language sql security definer"
        " set search_path = '' as 'select 1'",
        "lint_probe()",
    ),
    functions_anon_can_execute: (
        "create function public.lint_probe() returns int language sql set search_path = '' as 'select 1';"
        " grant execute on function public.lint_probe() to anon",
        "lint_probe() (anon)",
    ),
    views_without_security_invoker: ("create view private.lint_probe as select 1 as x", "private.lint_probe"),
    foreign_keys_without_index: (
        "create table private.lint_probe (workspace_id uuid references public.workspaces (id))",
        "private.lint_probe lint_probe_workspace_id_fkey (workspace_id)",
    ),
    extensions_in_public: ("create extension pg_trgm with schema public", "pg_trgm"),
    policies_with_per_row_calls: (
        "create policy lint_probe on public.agents for select to authenticated using (user_id = auth.uid())",
        "public.agents lint_probe: auth.uid",
    ),
    relations_anon_can_touch: ("create view public.lint_probe with (security_invoker) as select 1 as x", "lint_probe"),
    api_roles_with_trigger_or_references: (
        "grant trigger on public.usage_events to authenticated;"
        " grant references (workspace_id) on public.wallet_ledger to service_role",
        "usage_events (authenticated: TRIGGER)",
    ),
    sequences_anon_can_use: (
        "create sequence public.lint_probe; grant usage on sequence public.lint_probe to anon",
        "lint_probe",
    ),
    definer_functions_without_empty_search_path: (
        "create function private.lint_probe() returns int language sql security definer"
        " set search_path = public as 'select 1'",
        "private.lint_probe()",
    ),
    policies_for_all_or_not_authenticated: (
        "create policy lint_probe on public.agents using (false)",
        "agents lint_probe (FOR ALL)",
    ),
    read_policies_checking_membership_per_row: (
        "create policy lint_probe on public.agents for select to authenticated"
        " using ((select private.is_workspace_member(workspace_id)))",
        "agents lint_probe",
    ),
    policy_id_columns_without_index: (
        "create policy lint_probe on public.agents for select to authenticated"
        " using (provider_number_id is not null and deploy_request_id = 'x')",
        "agents.deploy_request_id",
    ),
}


@pytest.mark.parametrize("check", list(PLANTED), ids=lambda check: check.__name__)
def test_each_check_finds_a_planted_violation(
    db: psycopg.Connection, check: Callable[[psycopg.Connection], list[str]]
) -> None:
    statement, offender = PLANTED[check]
    with db.transaction(force_rollback=True):
        before = check(db)
        for part in statement.split(";"):
            db.execute(part)
        after = check(db)
    assert offender in after and offender not in before
