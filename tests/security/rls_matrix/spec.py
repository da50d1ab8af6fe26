"""The RLS matrix: one short, declarative row per table in ``public``.

Every table in ``public`` must have exactly one row in some
``tests/security/rls_matrix/<domain>.py`` file (a module-level ``TABLES`` list);
``tests/security/test_rls_matrix.py`` fails the suite for a table without one.
For each table the driver seeds one row in workspace A, then tries select,
insert, update and delete as each of seven actors, each try in its own
transaction that is rolled back, and compares what happened with the grid.

A row looks like this::

    from tests.security.rls_matrix.spec import Table

    TABLES = [
        Table(
            "agents",
            seed=lambda w: w.insert("agents", workspace_id=w.a, user_id=w.owner_a, agent_id=f"pending-{w.owner_a}"),
            insert=lambda w: {"workspace_id": w.a, "user_id": w.admin_a, "agent_id": f"pending-{w.admin_a}"},
            update={"nickname": "renamed"},
            expect='''
                        anon    member_a admin_a owner_a member_b p_admin service
                select  denied  ok       ok      ok      hidden   ok      ok
                insert  denied  refused  ok      ok      refused  ok      ok
                update  denied  hidden   ok      ok      hidden   ok      ok
                delete  denied  hidden   ok      ok      hidden   ok      ok
            ''',
        ),
    ]

Fields:

* ``seed(w)``: make the table's row in workspace A and return it (a dict with
  at least the ``key`` columns). ``w.insert(table, **values)`` inserts as the
  superuser and returns the row; ``w.row("other_table")`` is another table's
  seeded row (seeded on demand), ``w.one(sql, *params)`` reads one row,
  ``w.user()`` makes a fresh auth user. Ids: ``w.a``/``w.b`` (workspaces),
  ``w.owner_a``, ``w.admin_a``, ``w.member_a``, ``w.owner_b``, ``w.member_b``,
  ``w.platform_admin`` (users).
* ``insert(w)``: the values of a new row in workspace A, for the insert probe
  (called once per actor, so fresh users or keys may be made in it).
* ``update``: ``{column: value}`` set on the seeded row (a callable of ``w``
  is also accepted, for values that must be fresh).
* ``key``: the columns identifying the seeded row (default ``("id",)``).
* ``expect``: the grid. The header line is optional; when present it must be
  exactly ``anon member_a admin_a owner_a member_b p_admin service``.

Outcomes (every cell is asserted exactly):

* ``ok``: select sees the seeded row; insert inserts it; update/delete touch it.
* ``denied``: 42501 "permission denied for table ...": the role has no grant
  for the command (a function it may not execute is an ``err:42501``).
* ``hidden``: no error, zero rows: a policy hides the row (select, update, delete).
* ``refused``: 42501 "new row violates row-level security policy": the write is
  refused by a policy's WITH CHECK.
* ``err:XXXXX``: another error with that SQLSTATE (say, a trigger refusing).

The actors: ``anon`` (the anon JWT), ``member_a``/``admin_a``/``owner_a`` (roles
in workspace A), ``member_b`` (member of workspace B only), ``p_admin`` (a
platform admin, member of no workspace), ``service`` (the service_role JWT).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from harness.factories import Factories
from harness.rpc import ANON, SERVICE_ROLE, Jwt, user

ACTORS = ("anon", "member_a", "admin_a", "owner_a", "member_b", "p_admin", "service")
COMMANDS = ("select", "insert", "update", "delete")
OUTCOME = re.compile(r"^(ok|denied|hidden|refused|err:[0-9A-Z]{5})$")

Row = dict[str, Any]


@dataclass(frozen=True)
class Table:
    """One table's row of the matrix (see the module docstring)."""

    name: str
    seed: Callable[[World], Row]
    insert: Callable[[World], Row]
    update: Mapping[str, Any] | Callable[[World], Mapping[str, Any]]
    expect: str
    key: tuple[str, ...] = ("id",)
    grid: dict[str, dict[str, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid", parse_grid(self.name, self.expect))


def parse_grid(table: str, text: str) -> dict[str, dict[str, str]]:
    """``{command: {actor: outcome}}`` from the expect text; raises on any mistake."""
    grid: dict[str, dict[str, str]] = {}
    for line in (raw.split() for raw in text.strip().splitlines()):
        if not line:
            continue
        if line[0] not in COMMANDS:
            if tuple(line) != ACTORS:
                raise ValueError(f"{table}: the header must be exactly {' '.join(ACTORS)!r}, got {' '.join(line)!r}")
            continue
        command, outcomes = line[0], line[1:]
        if len(outcomes) != len(ACTORS):
            raise ValueError(f"{table}: {command} needs {len(ACTORS)} outcomes ({' '.join(ACTORS)}), got {outcomes}")
        for outcome in outcomes:
            if not OUTCOME.match(outcome):
                raise ValueError(f"{table}: unknown outcome {outcome!r} (ok, denied, hidden, refused, err:XXXXX)")
        if command == "insert" and "hidden" in outcomes:
            raise ValueError(f"{table}: insert cannot be hidden (a refused insert is 'refused')")
        if command in grid:
            raise ValueError(f"{table}: {command} appears twice")
        grid[command] = dict(zip(ACTORS, outcomes))
    missing = [c for c in COMMANDS if c not in grid]
    if missing:
        raise ValueError(f"{table}: the grid lacks {', '.join(missing)}")
    return grid


class World:
    """Workspaces A and B, their people, a platform admin, and seeded rows."""

    def __init__(self, conn: psycopg.Connection, tables: Mapping[str, Table]) -> None:
        self.conn = conn
        self.tables = tables
        self._seeded: dict[str, Row] = {}
        f = Factories(conn)
        ws_a, ws_b = f.workspace(name="Workspace A"), f.workspace(name="Workspace B")
        self.a: uuid.UUID = ws_a.id
        self.b: uuid.UUID = ws_b.id
        self.owner_a: uuid.UUID = ws_a.owner.id
        self.admin_a: uuid.UUID = f.member(ws_a, "admin").id
        self.member_a: uuid.UUID = f.member(ws_a, "member").id
        self.owner_b: uuid.UUID = ws_b.owner.id
        self.member_b: uuid.UUID = f.member(ws_b, "member").id
        self.platform_admin: uuid.UUID = f.platform_admin().id
        self._factories = f

    def jwt(self, actor: str) -> Jwt:
        users = {
            "member_a": self.member_a,
            "admin_a": self.admin_a,
            "owner_a": self.owner_a,
            "member_b": self.member_b,
            "p_admin": self.platform_admin,
        }
        if actor == "anon":
            return ANON
        if actor == "service":
            return SERVICE_ROLE
        return user(users[actor])

    def user(self) -> uuid.UUID:
        """A fresh auth user, member of nothing."""
        return self._factories.user().id

    def insert(self, table: str, **values: Any) -> Row:
        """Insert as the superuser; returns the whole new row."""
        columns = list(values)
        query = sql.SQL("insert into public.{} ({}) values ({}) returning *").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        row = self.one(query, *(adapt(values[c]) for c in columns))
        return row

    def one(self, query: str | sql.Composed, *params: Any) -> Row:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params or None)
            row = cur.fetchone()
        if row is None:
            raise LookupError(f"no row for {query!r}")
        return row

    def row(self, table: str) -> Row:
        """The seeded row of ``table`` (seeding it on first use)."""
        if table not in self._seeded:
            if table not in self.tables:
                raise LookupError(f"no matrix row declares {table!r}, so it cannot be seeded")
            self._seeded[table] = self.tables[table].seed(self)
        return self._seeded[table]


def adapt(value: Any) -> Any:
    """dicts go in as jsonb; lists as PostgreSQL arrays (wrap a JSON list in Jsonb yourself)."""
    return Jsonb(value) if isinstance(value, dict) else value


def probe(world: World, table: Table, command: str, actor: str) -> tuple[str, str]:
    """Run one command as one actor in a rolled-back transaction: (outcome, what happened)."""
    seeded = world.row(table.name)
    target = sql.Identifier("public", table.name)
    where = sql.SQL(" and ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in table.key)
    key_values = [seeded[k] for k in table.key]
    if command == "select":
        query: sql.Composed = sql.SQL("select count(*) from {} where {}").format(target, where)
        params: list[Any] = key_values
    elif command == "insert":
        values = table.insert(world)
        query = sql.SQL("insert into {} ({}) values ({})").format(
            target,
            sql.SQL(", ").join(map(sql.Identifier, values)),
            sql.SQL(", ").join(sql.Placeholder() * len(values)),
        )
        params = [adapt(v) for v in values.values()]
    elif command == "update":
        changes = table.update(world) if callable(table.update) else table.update
        query = sql.SQL("update {} set {} where {}").format(
            target,
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in changes),
            where,
        )
        params = [adapt(v) for v in changes.values()] + key_values
    else:
        query = sql.SQL("delete from {} where {}").format(target, where)
        params = key_values
    jwt = world.jwt(actor)
    try:
        with world.conn.transaction(force_rollback=True):
            world.conn.execute(sql.SQL("set local role {}").format(sql.Identifier(jwt.role)))
            world.conn.execute("select set_config('request.jwt.claims', %s, true)", (_claims(jwt),))
            cur = world.conn.execute(query, params)
            if command == "select":
                found = cur.fetchone()
                count = found[0] if found else 0
                return ("ok" if count > 0 else "hidden"), f"{count} row(s) seen"
            return ("ok" if cur.rowcount > 0 else "hidden"), f"{cur.rowcount} row(s) affected"
    except psycopg.Error as err:
        message = err.diag.message_primary or str(err)
        said = f"{err.sqlstate}: {message}"
        if err.sqlstate == "42501" and re.match(r"permission denied for (table|view|sequence) ", message):
            return "denied", said
        if err.sqlstate == "42501" and "violates row-level security policy" in message:
            return "refused", said
        return f"err:{err.sqlstate}", said


def _claims(jwt: Jwt) -> str:
    return json.dumps(jwt.claims())
