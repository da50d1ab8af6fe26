"""Orphans: objects in ``public`` and ``private`` that no file in db/ defines.

Deleting a function, policy or cron file, or changing a function's arguments,
leaves the old object in the database: a re-applied file only says what
exists. ``opsdb status`` and ``opsdb verify`` list such objects, each with the
statement that removes it. The one way to remove them is a versioned migration
holding those statements (``db/migrations/<version>_drop_<what>.sql``), so the
removal is reviewed, linted and recorded like any other change.

What a file defines is read with PostgreSQL's parser (pglast) from every file,
versioned and re-applied (templates rendered): functions and procedures (by
their argument types, so a stale overload is an orphan), triggers, policies,
tables, views, enum and composite types, domains (renames followed), and the
pg_cron jobs of db/cron/. Objects that belong to an extension, partitions and
the jobs of other databases are never orphans.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pglast import ast, parser
from pglast.enums import FunctionParameterMode, ObjectType
from pglast.stream import RawStream
from psycopg import sql

from harness.audit.readiness import cron_job_names
from harness.migrate import discover

SCHEMAS = ("public", "private")
_IDENTITY_MODES = {
    FunctionParameterMode.FUNC_PARAM_IN,
    FunctionParameterMode.FUNC_PARAM_INOUT,
    FunctionParameterMode.FUNC_PARAM_VARIADIC,
    FunctionParameterMode.FUNC_PARAM_DEFAULT,
}
_RELATION_RENAMES = {ObjectType.OBJECT_TABLE, ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW}
_TYPE_RENAMES = {ObjectType.OBJECT_TYPE, ObjectType.OBJECT_DOMAIN}


@dataclass(frozen=True)
class Orphan:
    kind: str  # function, procedure, trigger, policy, table, view, type, cron job
    name: str
    drop: str  # the statement a versioned migration uses to remove it

    def __str__(self) -> str:
        return f"{self.kind} {self.name} (no file defines it; remove it in a versioned migration: {self.drop})"


@dataclass
class Defined:
    signatures: set[str]  # 'schema.name(type, ...)' as written, resolved with to_regprocedure
    triggers: set[tuple[str, str, str]]  # (schema, table, trigger)
    policies: set[tuple[str, str, str]]  # (schema, table, policy)
    relations: set[tuple[str, str]]
    types: set[tuple[str, str]]
    cron_jobs: set[str]


def _name(value: object) -> str:
    return value if isinstance(value, str) else str(getattr(value, "sval", value))


def _qualified(names: Iterable[object] | None) -> tuple[str, str]:
    parts = [_name(n) for n in (names or ())]
    return (parts[-2] if len(parts) > 1 else "public", parts[-1])


def _range(var: ast.RangeVar) -> tuple[str, str]:
    return (var.schemaname or "public", var.relname)


def _collect(stmt: ast.Node, found: Defined) -> None:  # noqa: C901 (one branch per statement kind)
    if isinstance(stmt, ast.CreateFunctionStmt):
        schema, name = _qualified(stmt.funcname)
        modes = _IDENTITY_MODES | ({FunctionParameterMode.FUNC_PARAM_OUT} if stmt.is_procedure else set())
        args = [RawStream()(p.argType) for p in (stmt.parameters or ()) if p.mode in modes]
        found.signatures.add(f"{schema}.{name}({', '.join(args)})")
    elif isinstance(stmt, ast.CreateTrigStmt):
        found.triggers.add((*_range(stmt.relation), stmt.trigname))
    elif isinstance(stmt, ast.CreatePolicyStmt):
        found.policies.add((*_range(stmt.table), stmt.policy_name))
    elif isinstance(stmt, ast.CreateStmt):
        found.relations.add(_range(stmt.relation))
    elif isinstance(stmt, ast.ViewStmt):
        found.relations.add(_range(stmt.view))
    elif isinstance(stmt, ast.CreateTableAsStmt):
        found.relations.add(_range(stmt.into.rel))
    elif isinstance(stmt, ast.CreateEnumStmt):
        found.types.add(_qualified(stmt.typeName))
    elif isinstance(stmt, ast.CreateDomainStmt):
        found.types.add(_qualified(stmt.domainname))
    elif isinstance(stmt, ast.CompositeTypeStmt):
        found.types.add(_range(stmt.typevar))
    elif isinstance(stmt, ast.RenameStmt) and stmt.renameType in _RELATION_RENAMES and stmt.relation:
        found.relations.add((_range(stmt.relation)[0], stmt.newname))
    elif isinstance(stmt, ast.RenameStmt) and stmt.renameType in _TYPE_RENAMES:
        found.types.add((_qualified(stmt.object)[0], stmt.newname))


def defined(db_dir: Path) -> Defined:
    found = Defined(set(), set(), set(), set(), set(), set(cron_job_names(db_dir)))
    for f in discover(db_dir):
        try:
            statements = parser.parse_sql(f.sql)
        except parser.ParseError:
            continue  # the runner refuses the file and names its line
        for raw in statements:
            _collect(raw.stmt, found)
    return found


@dataclass(frozen=True)
class _Standalone:
    """Objects that stand alone in a schema: where the catalog keeps them, and how a drop statement names them."""

    catalog: str  # the catalog table, read as o
    namespace: str  # o's schema column
    kind: str  # o's column whose value ``words`` turns into the drop statement's word
    words: dict[str, str]
    name: str  # how a drop statement names one (n is its schema)
    only: str  # which of the catalog's rows count
    join: str = ""


_FUNCTIONS = _Standalone(
    "pg_proc",
    "pronamespace",
    "prokind",
    {"f": "function", "p": "procedure", "a": "aggregate", "w": "function"},
    "pg_catalog.format('%%I.%%I(%%s)', n.nspname, o.proname, pg_catalog.oidvectortypes(o.proargtypes))",
    "true",
)
_RELATIONS = _Standalone(
    "pg_class",
    "relnamespace",
    "relkind",
    {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"},
    "pg_catalog.format('%%I.%%I', n.nspname, o.relname)",
    "o.relkind in ('r', 'p', 'v', 'm', 'f') and not o.relispartition",
)
_TYPES = _Standalone(
    "pg_type",
    "typnamespace",
    "typtype",
    {"e": "type", "c": "type", "d": "domain"},
    "pg_catalog.format('%%I.%%I', n.nspname, o.typname)",
    "(o.typtype in ('e', 'd') or (o.typtype = 'c' and c.relkind = 'c'))",
    join="left join pg_catalog.pg_class as c on c.oid = o.typrelid",
)


def _standalone(conn: psycopg.Connection, what: _Standalone, resolve: str, names: list[str]) -> list[Orphan]:
    """``what``'s objects in ``public`` and ``private`` that no extension owns and none of ``names`` is.

    ``names`` are resolved to objects by ``pg_catalog.<resolve>`` (to_regprocedure,
    to_regclass, to_regtype); a name that resolves to nothing defines nothing.
    """
    rows = conn.execute(
        f"""
        select o.{what.kind}, {what.name}
        from pg_catalog.{what.catalog} as o
        join pg_catalog.pg_namespace as n on n.oid = o.{what.namespace}
        {what.join}
        where n.nspname = any(%(schemas)s) and {what.only}
            and not exists (
                select from pg_catalog.pg_depend as d
                where d.classid = 'pg_catalog.{what.catalog}'::pg_catalog.regclass and d.objid = o.oid
                    and d.deptype = 'e'
            )
            and o.oid not in (
                select r::oid from pg_catalog.unnest(%(names)s::text[]) as k, pg_catalog.{resolve}(k) as r
                where r is not null
            )
        order by 2
        """,
        {"schemas": list(SCHEMAS), "names": names},
    ).fetchall()
    return [Orphan(what.words[kind], name, f"drop {what.words[kind]} {name};") for kind, name in rows]


def _qualified_names(conn: psycopg.Connection, names: set[tuple[str, str]]) -> list[str]:
    return [sql.Identifier(schema, name).as_string(conn) for schema, name in names]


def _functions(conn: psycopg.Connection, known: Defined) -> list[Orphan]:
    return _standalone(conn, _FUNCTIONS, "to_regprocedure", sorted(known.signatures))


# What may hang off a table, and where the catalog keeps it: (catalog, table column, name column, filter).
_ON_TABLE = {
    "trigger": ("pg_catalog.pg_trigger", "tgrelid", "tgname", "not o.tgisinternal and "),
    "policy": ("pg_catalog.pg_policy", "polrelid", "polname", ""),
}


def _on_table(conn: psycopg.Connection, kind: str, known: set[tuple[str, str, str]], label: str) -> list[Orphan]:
    """Triggers or policies (``kind``) of ``public`` and ``private`` tables that ``known`` does not hold.

    ``label`` formats the orphan's name from ``{name}`` and ``{table}``.
    """
    catalog, table_column, name_column, only = _ON_TABLE[kind]
    rows = conn.execute(
        f"select n.nspname, c.relname, o.{name_column}, pg_catalog.format('%%I.%%I', n.nspname, c.relname)"
        f" from {catalog} as o join pg_catalog.pg_class as c on c.oid = o.{table_column}"
        " join pg_catalog.pg_namespace as n on n.oid = c.relnamespace"
        f" where {only}n.nspname = any(%s) order by 1, 2, 3",
        (list(SCHEMAS),),
    ).fetchall()
    drop = sql.SQL("drop " + kind + " {} on {};")
    return [
        Orphan(kind, label.format(name=name, table=table), drop.format(sql.Identifier(name), sql.SQL(table)).as_string(conn))
        for schema, rel, name, table in rows
        if (schema, rel, name) not in known
    ]


def _triggers(conn: psycopg.Connection, known: Defined) -> list[Orphan]:
    return _on_table(conn, "trigger", known.triggers, "{name} on {table}")


def _policies(conn: psycopg.Connection, known: Defined) -> list[Orphan]:
    return _on_table(conn, "policy", known.policies, '"{name}" on {table}')


def _relations(conn: psycopg.Connection, known: Defined) -> list[Orphan]:
    return _standalone(conn, _RELATIONS, "to_regclass", _qualified_names(conn, known.relations))


def _types(conn: psycopg.Connection, known: Defined) -> list[Orphan]:
    return _standalone(conn, _TYPES, "to_regtype", _qualified_names(conn, known.types))


def _cron_jobs(conn: psycopg.Connection, known: Defined) -> list[Orphan]:
    present = conn.execute("select to_regclass('cron.job') is not null").fetchone()
    if not present or not present[0]:
        return []
    rows = conn.execute(
        "select jobid, jobname from cron.job where database = current_database() order by jobname, jobid"
    ).fetchall()
    return [
        Orphan(
            "cron job",
            name or f"#{jobid} (unnamed)",
            f"select cron.unschedule({jobid if name is None else sql.Literal(name).as_string(conn)});",
        )
        for jobid, name in rows
        if name not in known.cron_jobs
    ]


def find(conn: psycopg.Connection, db_dir: Path) -> list[Orphan]:
    """Every orphan of ``conn``'s database against the files in ``db_dir``."""
    known = defined(db_dir)
    return [
        *_functions(conn, known),
        *_triggers(conn, known),
        *_policies(conn, known),
        *_relations(conn, known),
        *_types(conn, known),
        *_cron_jobs(conn, known),
    ]
