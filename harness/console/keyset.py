"""Keyset pagination: a page is "the next N rows after this key", never OFFSET.

A cursor is the sort key of the last row shown, encoded for a URL. Every list
orders by a unique key (a time and the id) that an index answers, so page 1000
costs what page 1 costs.
"""

from __future__ import annotations

import base64
import json
from typing import Any

PAGE_SIZE = 50


def encode(*values: Any) -> str:
    raw = json.dumps([v if isinstance(v, (int, float, str)) or v is None else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str | None, arity: int) -> list[Any] | None:
    """The key values of ``cursor``, or None for the first page (or a cursor that is not ours)."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != arity:
        return None
    return values


def page(rows: list[dict[str, Any]], size: int, *key: str) -> tuple[list[dict[str, Any]], str | None]:
    """Split the size+1 rows a query fetched into the page and the next cursor (None on the last page)."""
    if len(rows) <= size:
        return rows, None
    shown = rows[:size]
    return shown, encode(*(shown[-1][k] for k in key))
