"""plpgsql_check over every PL/pgSQL function of ``public`` and ``private``.

PostgreSQL checks a PL/pgSQL body only when it runs; plpgsql_check (Debian's
``postgresql-15-plpgsql-check``; Supabase ships the extension) checks each one
statically against the live schema: unknown columns and tables, wrong types,
missing RETURNs, unused variables. A trigger function is checked once for every
table it is attached to, since NEW and OLD are those tables' rows.

When the extension is not installed in the database, it is created in schema
``extensions`` inside a transaction that is rolled back afterwards, so the check
leaves nothing behind. Errors fail ``opsdb lint``; warnings are listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

FUNCTIONS = """
select
    p.oid,
    pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)),
    p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype,
    t.tgrelid,
    t.relation
from pg_catalog.pg_proc as p
join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
join pg_catalog.pg_language as l on l.oid = p.prolang
left join lateral (
    select distinct tg.tgrelid, pg_catalog.format('%I.%I', tn.nspname, tc.relname) as relation
    from pg_catalog.pg_trigger as tg
    join pg_catalog.pg_class as tc on tc.oid = tg.tgrelid
    join pg_catalog.pg_namespace as tn on tn.oid = tc.relnamespace
    where tg.tgfoid = p.oid
) as t on p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
where l.lanname = 'plpgsql'
    and n.nspname in ('public', 'private')
    and p.prorettype <> 'pg_catalog.event_trigger'::pg_catalog.regtype
    and not exists (
        select from pg_catalog.pg_depend as d
        where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass and d.objid = p.oid and d.deptype = 'e'
    )
order by 2, 5
"""


@dataclass(frozen=True)
class Problem:
    function: str
    table: str | None  # the trigger's table, for trigger functions
    level: str  # 'error', 'warning', 'warning extra', 'performance'
    message: str
    lineno: int | None
    detail: str | None = None
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.level == "error"

    def __str__(self) -> str:
        where = self.function + (f" on {self.table}" if self.table else "")
        line = f" line {self.lineno}" if self.lineno else ""
        extra = "; ".join(x for x in (self.detail, self.hint) if x)
        return f"plpgsql_check {self.level}: {where}{line}: {self.message}" + (f" ({extra})" if extra else "")


class NotAvailable(RuntimeError):
    """The server has no plpgsql_check to create."""


def _problems(conn: psycopg.Connection, schema: str) -> list[Problem]:
    check = sql.SQL(
        "select level, message, lineno, detail, hint from {}.plpgsql_check_function_tb("
        "%s, %s, fatal_errors => false, other_warnings => true, extra_warnings => true,"
        " performance_warnings => false)"
    ).format(sql.Identifier(schema))
    found = []
    for oid, name, is_trigger, relid, table in conn.execute(FUNCTIONS).fetchall():
        if is_trigger and relid is None:
            found.append(Problem(name, None, "warning", "trigger function attached to no table: not checked", None))
            continue
        for level, message, lineno, detail, hint in conn.execute(check, (oid, relid or 0)).fetchall():
            found.append(Problem(name, table, level, message, lineno, detail, hint))
    return found


def check(database_url: str) -> list[Problem]:
    """Every problem plpgsql_check finds, errors first."""
    with psycopg.connect(database_url) as conn:  # one transaction, rolled back on leaving
        row = conn.execute(
            "select n.nspname from pg_catalog.pg_extension as e"
            " join pg_catalog.pg_namespace as n on n.oid = e.extnamespace where e.extname = 'plpgsql_check'"
        ).fetchone()
        if row:
            schema = row[0]
        else:
            available = conn.execute(
                "select exists (select from pg_catalog.pg_available_extensions where name = 'plpgsql_check')"
            ).fetchone()
            if not available or not available[0]:
                raise NotAvailable(
                    "plpgsql_check is not installed on this server: apt-get install postgresql-15-plpgsql-check"
                    " (Supabase ships it)"
                )
            schema = "extensions"
            conn.execute("create schema if not exists extensions")
            conn.execute("create extension plpgsql_check schema extensions")
        problems = _problems(conn, schema)
        conn.rollback()
    return sorted(problems, key=lambda p: (not p.is_error, p.function, p.table or "", p.lineno or 0))
