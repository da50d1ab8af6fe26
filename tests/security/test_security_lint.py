"""Security lint: the migrated database checked against the project's rules.

Runs over everything in the database (every domain's tables, functions, views
and policies), so a violation anywhere fails here, naming the object.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg
import pytest

# Schemas that belong to PostgreSQL, Supabase (or its compatibility layer here)
# and extensions, not to this project.
SYSTEM_SCHEMAS = (
    "pg_catalog",
    "information_schema",
    "pg_toast",
    "auth",
    "vault",
    "extensions",
    "cron",
    "storage",
    "graphql",
    "graphql_public",
    "realtime",
    "_realtime",
    "supabase_functions",
    "supabase_migrations",
    "net",
    "pgsodium",
    "pgsodium_masks",
    "pgbouncer",
    "pgtle",
    "_analytics",
)

# Functions in public that the contract lets PUBLIC or anon execute: none
# ("anon may call nothing here").
ANON_CALLABLE: frozenset[str] = frozenset()


def rows(db: psycopg.Connection, query: str) -> list[str]:
    return [r[0] for r in db.execute(query, {"system": list(SYSTEM_SCHEMAS)}).fetchall()]


def tables_without_rls_or_policy(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        """
        select c.oid::regclass::text
            || case when not c.relrowsecurity then ' (RLS disabled)' else ' (no policy)' end
        from pg_class as c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
            and (not c.relrowsecurity or not exists (select from pg_policy as p where p.polrelid = c.oid))
        order by 1
        """,
    )


def test_every_public_table_has_rls_enabled_and_a_policy(db: psycopg.Connection) -> None:
    assert tables_without_rls_or_policy(db) == []


def functions_without_pinned_search_path(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        """
        select p.oid::regprocedure::text
        from pg_proc as p
        join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname <> all (%(system)s) and n.nspname not like 'pg\\_%%'
            and p.prokind in ('f', 'p', 'w')
            and not exists (
                select from pg_depend as d
                where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
            )
            and not exists (select from unnest(p.proconfig) as c (setting) where c.setting like 'search_path=%%')
        order by 1
        """,
    )


def test_every_function_pins_search_path(db: psycopg.Connection) -> None:
    assert functions_without_pinned_search_path(db) == []


def definer_functions_in_public(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        "select p.oid::regprocedure::text from pg_proc as p"
        " where p.pronamespace = 'public'::regnamespace and p.prosecdef order by 1",
    )


def test_no_security_definer_function_in_public(db: psycopg.Connection) -> None:
    assert definer_functions_in_public(db) == []


def functions_anon_can_execute(db: psycopg.Connection) -> list[str]:
    found = db.execute(
        """
        select p.proname, p.oid::regprocedure::text,
            has_function_privilege('anon', p.oid, 'execute'),
            p.proacl is null or exists (select from aclexplode(p.proacl) as a where a.grantee = 0)
        from pg_proc as p
        where p.pronamespace = 'public'::regnamespace
        order by 2
        """
    ).fetchall()
    return [
        f"{signature} ({'PUBLIC' if by_public else 'anon'})"
        for name, signature, by_anon, by_public in found
        if (by_anon or by_public) and name not in ANON_CALLABLE
    ]


def test_no_public_function_is_executable_by_public_or_anon(db: psycopg.Connection) -> None:
    assert functions_anon_can_execute(db) == []


def views_without_security_invoker(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        """
        select c.oid::regclass::text
        from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        where c.relkind = 'v' and n.nspname <> all (%(system)s) and n.nspname not like 'pg\\_%%'
            and not coalesce(c.reloptions, '{}')
            && array['security_invoker=true', 'security_invoker=on', 'security_invoker=1']
        order by 1
        """,
    )


def test_every_view_is_security_invoker(db: psycopg.Connection) -> None:
    assert views_without_security_invoker(db) == []


def foreign_keys_without_index(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        """
        select c.conrelid::regclass::text || ' ' || c.conname
            || ' (' || (
                select string_agg(a.attname, ', ' order by k.o)
                from unnest(c.conkey) with ordinality as k (attnum, o)
                join pg_attribute as a on a.attrelid = c.conrelid and a.attnum = k.attnum
            ) || ')'
        from pg_constraint as c
        join pg_namespace as n on n.oid = c.connamespace
        where c.contype = 'f' and n.nspname <> all (%(system)s)
            and not exists (
                select from pg_index as i
                where i.indrelid = c.conrelid and i.indpred is null
                    and (
                        select array_agg(k.attnum order by k.attnum)
                        from unnest(i.indkey) with ordinality as k (attnum, o)
                        where k.o <= cardinality(c.conkey)
                    ) = (select array_agg(k order by k) from unnest(c.conkey) as k)
            )
        order by 1
        """,
    )


def test_every_foreign_key_has_a_covering_index(db: psycopg.Connection) -> None:
    assert foreign_keys_without_index(db) == []


def extensions_in_public(db: psycopg.Connection) -> list[str]:
    # An extension lives where its objects are. pg_cron is the one case where
    # the two differ: it is not relocatable, keeps every object in schema cron,
    # and records as its namespace whichever schema was current at CREATE
    # EXTENSION; so extnamespace decides only for relocatable extensions.
    return rows(
        db,
        """
        select distinct e.extname
        from pg_extension as e
        left join pg_depend as d on d.refclassid = 'pg_extension'::regclass and d.refobjid = e.oid
            and d.deptype = 'e'
        left join pg_proc as p on d.classid = 'pg_proc'::regclass and p.oid = d.objid
        left join pg_class as c on d.classid = 'pg_class'::regclass and c.oid = d.objid
        left join pg_type as t on d.classid = 'pg_type'::regclass and t.oid = d.objid
        where (e.extnamespace = 'public'::regnamespace and e.extrelocatable)
            or 'public'::regnamespace in (p.pronamespace, c.relnamespace, t.typnamespace)
        order by 1
        """,
    )


def test_no_extension_lives_in_public(db: psycopg.Connection) -> None:
    assert extensions_in_public(db) == []


# auth.uid() and friends read request settings; outside a sub-select they run
# once per row instead of once per statement (Supabase's RLS performance advice).
PER_ROW_CALL = re.compile(r"\b(auth\.(uid|jwt|role|email)|current_setting)\s*\(", re.I)


def calls_outside_subselect(expression: str) -> list[str]:
    """The per-row calls in a deparsed policy expression that no ( SELECT ...) encloses."""
    found = []
    stack: list[bool] = []  # one entry per open parenthesis: does it open a sub-select?
    i = 0
    while i < len(expression):
        ch = expression[i]
        if ch == "'":  # skip string literals ('' is an escaped quote)
            i += 1
            while i < len(expression) and not (expression[i] == "'" and expression[i + 1 : i + 2] != "'"):
                i += 2 if expression[i : i + 2] == "''" else 1
        elif ch == "(":
            stack.append(bool(re.match(r"\(\s*select\b", expression[i:], re.I)))
        elif ch == ")" and stack:
            stack.pop()
        else:
            match = PER_ROW_CALL.match(expression, i)
            if match and (i == 0 or not (expression[i - 1].isalnum() or expression[i - 1] in "_.")):
                if not any(stack):
                    found.append(match.group(1))
                i = match.end() - 1  # continue at the call's own parenthesis
        i += 1
    return found


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


def policies_with_per_row_calls(db: psycopg.Connection) -> list[str]:
    policies = db.execute(
        "select schemaname || '.' || tablename || ' ' || quote_ident(policyname), qual, with_check from pg_policies"
        " where schemaname <> all (%(system)s) order by 1",
        {"system": list(SYSTEM_SCHEMAS)},
    ).fetchall()
    return [
        f"{name}: {', '.join(calls)}"
        for name, qual, check in policies
        if (calls := calls_outside_subselect(qual or "") + calls_outside_subselect(check or ""))
    ]


def test_policies_call_auth_and_settings_only_inside_sub_selects(db: psycopg.Connection) -> None:
    assert policies_with_per_row_calls(db) == []


def relations_anon_can_touch(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        """
        select c.oid::regclass::text
        from pg_class as c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
            and (
                has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate, references, trigger')
                or has_any_column_privilege('anon', c.oid, 'select, insert, update, references')
            )
        order by 1
        """,
    )


def test_anon_has_no_privilege_on_any_public_relation(db: psycopg.Connection) -> None:
    assert relations_anon_can_touch(db) == []


def policies_for_all_or_not_authenticated(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        """
        select p.polrelid::regclass::text || ' ' || quote_ident(p.polname)
            || case when p.polcmd = '*' then ' (FOR ALL)' else ' (not TO authenticated)' end
        from pg_policy as p
        join pg_class as c on c.oid = p.polrelid
        where c.relnamespace = 'public'::regnamespace
            and (p.polcmd = '*' or p.polroles <> array['authenticated'::regrole::oid])
        order by 1
        """,
    )


def test_policies_are_one_per_command_and_for_authenticated(db: psycopg.Connection) -> None:
    assert policies_for_all_or_not_authenticated(db) == []


def policy_id_columns_without_index(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        """
        select distinct c.oid::regclass::text || '.' || a.attname
        from pg_policy as p
        join pg_depend as d on d.classid = 'pg_policy'::regclass and d.objid = p.oid
            and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0
        join pg_class as c on c.oid = d.refobjid
        join pg_namespace as n on n.oid = c.relnamespace
        join pg_attribute as a on a.attrelid = c.oid and a.attnum = d.refobjsubid
        where n.nspname <> all (%(system)s)
            and (a.attname = 'id' or a.attname like '%%\\_id')
            and not exists (
                select from pg_index as i where i.indrelid = c.oid and i.indkey[0] = a.attnum
            )
        order by 1
        """,
    )


def test_id_columns_that_policies_filter_on_are_indexed(db: psycopg.Connection) -> None:
    assert policy_id_columns_without_index(db) == []


def read_policies_checking_membership_per_row(db: psycopg.Connection) -> list[str]:
    """SELECT policies that ask "is the caller a member of this row's workspace?"
    once per row. Read policies use the array form instead,
    workspace_id = any((select private.member_workspace_ids())::uuid[]), evaluated
    once per statement and answerable from the workspace_id index."""
    return rows(
        db,
        """
        select p.polrelid::regclass::text || ' ' || p.polname
        from pg_policy as p
        join pg_class as c on c.oid = p.polrelid
        join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname <> all (%(system)s)
            and p.polcmd = 'r'
            and pg_get_expr(p.polqual, p.polrelid) ~ 'is_workspace_(member|admin)\\('
        order by 1
        """,
    )


def test_read_policies_check_membership_once_per_statement(db: psycopg.Connection) -> None:
    assert read_policies_checking_membership_per_row(db) == []


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
