"""Security checks: the migrated database against the project's rules.

Each check is a function of a connection that returns its findings, one line
per offending object (empty: the rule holds). They run over everything in the
database, every domain's tables, functions, views and policies, so a violation
anywhere is named. ``@SECURITY_CHECKS.rule`` names each one's rule above it, in
the report's order. ``tests/security/test_security_lint.py`` asserts each one on
the test database and plants a violation to show each can see; ``opsdb audit``
runs them on a live database (:mod:`harness.audit`).
"""

from __future__ import annotations

import re

import psycopg

from harness.audit.check import Checks

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

SECURITY_CHECKS = Checks()


# What most checks look at: the project's schemas (not PostgreSQL's, Supabase's or
# an extension's), and the functions and procedures in them that no extension owns.
OURS = """
with our_schemas as (
    select n.oid from pg_namespace as n
    where n.nspname <> all (%(system)s) and n.nspname not like 'pg\\_%%'
),
our_functions as (
    select p.* from pg_proc as p
    where p.pronamespace in (select oid from our_schemas)
        and not exists (
            select from pg_depend as d
            where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
        )
)
"""


def rows(db: psycopg.Connection, query: str) -> list[str]:
    """What ``query`` names (its first column), in order; it may read ``our_schemas`` and ``our_functions``."""
    return [r[0] for r in db.execute(f"{OURS} {query} order by 1", {"system": list(SYSTEM_SCHEMAS)}).fetchall()]


@SECURITY_CHECKS.rule("rls_on_every_table", "every table in public has RLS enabled and a policy")
def tables_without_rls_or_policy(db: psycopg.Connection) -> list[str]:
    return rows(db, """
        select c.oid::regclass::text
            || case when not c.relrowsecurity then ' (RLS disabled)' else ' (no policy)' end
        from pg_class as c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
            and (not c.relrowsecurity or not exists (select from pg_policy as p where p.polrelid = c.oid))
        """)


@SECURITY_CHECKS.rule("search_path_pinned", "every function pins its search_path")
def functions_without_pinned_search_path(db: psycopg.Connection) -> list[str]:
    """Functions and procedures whose search_path a caller could choose.

    A procedure that COMMITs cannot carry a SET clause (PostgreSQL forbids
    transaction control then). Such a procedure passes only where no caller can
    choose its search_path for it: in private, not SECURITY DEFINER, and executable
    by no API role (PUBLIC, anon, authenticated, service_role), so only its owner
    (pg_cron's jobs, an operator) runs it, naming everything in full.
    """
    return rows(db, """
        select p.oid::regprocedure::text
        from our_functions as p
        where p.prokind in ('f', 'p', 'w')
            and not exists (select from unnest(p.proconfig) as c (setting) where c.setting like 'search_path=%%')
            and not (
                p.prokind = 'p' and p.pronamespace::regnamespace::text = 'private' and not p.prosecdef
                and not exists (
                    select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
                    where a.privilege_type = 'EXECUTE'
                        and (a.grantee = 0 or a.grantee in (
                            select r.oid from pg_roles as r
                            where r.rolname in ('anon', 'authenticated', 'service_role')
                        ))
                )
            )
        """)


@SECURITY_CHECKS.rule("no_definer_in_public", "no SECURITY DEFINER function in the exposed schema")
def definer_functions_in_public(db: psycopg.Connection) -> list[str]:
    return rows(
        db,
        "select p.oid::regprocedure::text from pg_proc as p"
        " where p.pronamespace = 'public'::regnamespace and p.prosecdef",
    )


@SECURITY_CHECKS.rule("nothing_callable_by_anon", "no public function is executable by PUBLIC or anon")
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


@SECURITY_CHECKS.rule("views_security_invoker", "every view is security_invoker")
def views_without_security_invoker(db: psycopg.Connection) -> list[str]:
    return rows(db, """
        select c.oid::regclass::text
        from pg_class as c
        where c.relkind = 'v' and c.relnamespace in (select oid from our_schemas)
            and not coalesce(c.reloptions, '{}')
            && array['security_invoker=true', 'security_invoker=on', 'security_invoker=1']
        """)


@SECURITY_CHECKS.rule("foreign_keys_indexed", "every foreign key has a covering index")
def foreign_keys_without_index(db: psycopg.Connection) -> list[str]:
    return rows(db, """
        select c.conrelid::regclass::text || ' ' || c.conname
            || ' (' || (
                select string_agg(a.attname, ', ' order by k.o)
                from unnest(c.conkey) with ordinality as k (attnum, o)
                join pg_attribute as a on a.attrelid = c.conrelid and a.attnum = k.attnum
            ) || ')'
        from pg_constraint as c
        where c.contype = 'f' and c.connamespace in (select oid from our_schemas)
            and not exists (
                select from pg_index as i
                where i.indrelid = c.conrelid and i.indpred is null
                    and (
                        select array_agg(k.attnum order by k.attnum)
                        from unnest(i.indkey) with ordinality as k (attnum, o)
                        where k.o <= cardinality(c.conkey)
                    ) = (select array_agg(k order by k) from unnest(c.conkey) as k)
            )
        """)


@SECURITY_CHECKS.rule("no_extension_in_public", "no extension lives in public")
def extensions_in_public(db: psycopg.Connection) -> list[str]:
    # An extension lives where its objects are. pg_cron is the one case where
    # the two differ: it is not relocatable, keeps every object in schema cron,
    # and records as its namespace whichever schema was current at CREATE
    # EXTENSION; so extnamespace decides only for relocatable extensions.
    return rows(db, """
        select distinct e.extname
        from pg_extension as e
        left join pg_depend as d on d.refclassid = 'pg_extension'::regclass and d.refobjid = e.oid
            and d.deptype = 'e'
        left join pg_proc as p on d.classid = 'pg_proc'::regclass and p.oid = d.objid
        left join pg_class as c on d.classid = 'pg_class'::regclass and c.oid = d.objid
        left join pg_type as t on d.classid = 'pg_type'::regclass and t.oid = d.objid
        where (e.extnamespace = 'public'::regnamespace and e.extrelocatable)
            or 'public'::regnamespace in (p.pronamespace, c.relnamespace, t.typnamespace)
        """)


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


@SECURITY_CHECKS.rule(
    "policies_call_auth_once",
    "policies call auth.*() and current_setting() only inside sub-selects (once per statement)",
)
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


@SECURITY_CHECKS.rule("anon_touches_nothing", "anon has no privilege on any public relation")
def relations_anon_can_touch(db: psycopg.Connection) -> list[str]:
    return rows(db, """
        select c.oid::regclass::text
        from pg_class as c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
            and (
                has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate, references, trigger')
                or has_any_column_privilege('anon', c.oid, 'select, insert, update, references')
            )
        """)


@SECURITY_CHECKS.rule("anon_uses_no_sequence", "anon can use no sequence in public")
def sequences_anon_can_use(db: psycopg.Connection) -> list[str]:
    return rows(db, """
        select c.oid::regclass::text
        from pg_class as c
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'S'
            -- (case: has_sequence_privilege must never see a relation that is not a sequence)
            and case when c.relkind = 'S' then has_sequence_privilege('anon', c.oid, 'usage, select, update') end
        """)


@SECURITY_CHECKS.rule(
    "no_trigger_or_references_for_api_roles",
    "authenticated and service_role hold no TRIGGER or REFERENCES privilege on our tables",
)
def api_roles_with_trigger_or_references(db: psycopg.Connection) -> list[str]:
    """TRIGGER lets a role attach code to a table (a failing trigger breaks every writer); REFERENCES lets it
    make foreign keys that block deletes. The API roles need neither."""
    return rows(db, """
        select c.oid::regclass::text || ' (' || r.rolname || ': '
            || concat_ws(', ',
                case when has_table_privilege(r.rolname, c.oid, 'trigger') then 'TRIGGER' end,
                case when has_any_column_privilege(r.rolname, c.oid, 'references') then 'REFERENCES' end
            ) || ')'
        from pg_class as c
        cross join (values ('authenticated'), ('service_role')) as r (rolname)
        where c.relnamespace::regnamespace::text in ('public', 'private') and c.relkind in ('r', 'p', 'v', 'm', 'f')
            and (
                has_table_privilege(r.rolname, c.oid, 'trigger')
                -- table-level REFERENCES or on any one column
                or has_any_column_privilege(r.rolname, c.oid, 'references')
            )
        """)


@SECURITY_CHECKS.rule("definer_search_path_empty", "every SECURITY DEFINER function runs with search_path = ''")
def definer_functions_without_empty_search_path(db: psycopg.Connection) -> list[str]:
    """STYLE: definer code runs with search_path = '' and names everything in full."""
    return rows(db, """
        select p.oid::regprocedure::text
        from our_functions as p
        where p.prosecdef and not coalesce(p.proconfig, '{}') @> array['search_path=""']
        """)


@SECURITY_CHECKS.rule("policies_per_command", "policies are one per command and TO authenticated")
def policies_for_all_or_not_authenticated(db: psycopg.Connection) -> list[str]:
    return rows(db, """
        select p.polrelid::regclass::text || ' ' || quote_ident(p.polname)
            || case when p.polcmd = '*' then ' (FOR ALL)' else ' (not TO authenticated)' end
        from pg_policy as p
        join pg_class as c on c.oid = p.polrelid
        where c.relnamespace = 'public'::regnamespace
            and (p.polcmd = '*' or p.polroles <> array['authenticated'::regrole::oid])
        """)


@SECURITY_CHECKS.rule("policy_columns_indexed", "id columns that policies filter on are indexed")
def policy_id_columns_without_index(db: psycopg.Connection) -> list[str]:
    return rows(db, """
        select distinct c.oid::regclass::text || '.' || a.attname
        from pg_policy as p
        join pg_depend as d on d.classid = 'pg_policy'::regclass and d.objid = p.oid
            and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0
        join pg_class as c on c.oid = d.refobjid
        join pg_attribute as a on a.attrelid = c.oid and a.attnum = d.refobjsubid
        where c.relnamespace in (select oid from our_schemas)
            and (a.attname = 'id' or a.attname like '%%\\_id')
            and not exists (
                select from pg_index as i where i.indrelid = c.oid and i.indkey[0] = a.attnum
            )
        """)


@SECURITY_CHECKS.rule("membership_once_per_statement", "read policies check membership once per statement, not per row")
def read_policies_checking_membership_per_row(db: psycopg.Connection) -> list[str]:
    """SELECT policies that ask "is the caller a member of this row's workspace?"
    once per row. Read policies use the array form instead,
    workspace_id = any((select private.member_workspace_ids())::uuid[]), evaluated
    once per statement and answerable from the workspace_id index."""
    return rows(db, """
        select p.polrelid::regclass::text || ' ' || p.polname
        from pg_policy as p
        join pg_class as c on c.oid = p.polrelid
        where c.relnamespace in (select oid from our_schemas)
            and p.polcmd = 'r'
            and pg_get_expr(p.polqual, p.polrelid) ~ 'is_workspace_(member|admin)\\('
        """)
