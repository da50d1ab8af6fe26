"""The naming rule, checked on the catalog: a reader predicts a function's name from its role.

`private._x` implements exactly `public.x`; every other private function is
named for what it does, without a leading underscore; a trigger function is
`private.tg_<table>__<action>` (or `private.tg_<action>` when several tables share it).
"""

from __future__ import annotations

import psycopg


def _names(db: psycopg.Connection, query: str) -> list[str]:
    return [row[0] for row in db.execute(query).fetchall()]


def test_an_underscore_marks_exactly_the_implementation_of_a_public_function(db: psycopg.Connection) -> None:
    orphans = _names(
        db,
        """
        select p.proname from pg_proc as p
        where p.pronamespace = 'private'::regnamespace and p.proname like '\\_%'
            and not exists (
                select from pg_proc as q
                where q.pronamespace = 'public'::regnamespace and '_' || q.proname = p.proname
            )
        order by 1
        """,
    )
    assert orphans == [], "a private helper that implements no public function has no leading underscore"


def test_every_trigger_function_is_named_tg(db: psycopg.Connection) -> None:
    misnamed = _names(
        db,
        """
        select p.oid::regprocedure::text from pg_proc as p
        where p.pronamespace in ('private'::regnamespace, 'public'::regnamespace)
            and p.prorettype = 'trigger'::regtype and p.proname not like 'tg\\_%'
        order by 1
        """,
    )
    assert misnamed == []


def test_only_trigger_functions_are_named_tg(db: psycopg.Connection) -> None:
    misnamed = _names(
        db,
        """
        select p.oid::regprocedure::text from pg_proc as p
        where p.pronamespace in ('private'::regnamespace, 'public'::regnamespace)
            and p.prorettype <> 'trigger'::regtype and p.proname like 'tg\\_%'
        order by 1
        """,
    )
    assert misnamed == []
