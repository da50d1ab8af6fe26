"""The one row a query returns, or its first value, typed.

psycopg's ``fetchone()`` answers ``None`` when there is no row, so indexing it
needs a check; these do the check once, with the query in the error.
"""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg
from psycopg.abc import Params, QueryNoTemplate

_Row = TypeVar("_Row")


def one(
    conn: psycopg.Connection[_Row] | psycopg.Cursor[_Row], query: QueryNoTemplate, params: Params | None = None
) -> _Row:
    """The first row ``query`` returns; LookupError when it returns none."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError(f"no row for {query!r}")
    return row


def scalar(
    conn: psycopg.Connection[tuple[Any, ...]] | psycopg.Cursor[tuple[Any, ...]],
    query: QueryNoTemplate,
    params: Params | None = None,
) -> Any:
    """The first value of the first row ``query`` returns; LookupError when it returns none."""
    return one(conn, query, params)[0]
