"""Functions stay short enough to read at once: at most 120 lines of body.

A function that must stay one step (one statement whose plan needs the whole of
it, say) says so in a comment starting `-- One step:` with the reason.
"""

from __future__ import annotations

import psycopg

LIMIT = 120


def test_no_function_is_over_120_lines_unless_it_says_why_it_is_one_step(db: psycopg.Connection) -> None:
    rows = db.execute(
        """
        select p.oid::regprocedure::text, array_length(string_to_array(p.prosrc, e'\\n'), 1)
        from pg_proc as p
        where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
            and array_length(string_to_array(p.prosrc, e'\\n'), 1) > %s
            and p.prosrc not ilike '%%-- One step:%%'
        order by 2 desc
        """,
        (LIMIT,),
    ).fetchall()
    assert rows == [], f"over {LIMIT} lines without a `-- One step:` comment saying why"
