"""What the target already holds that a DBA should know before (and after) migrating.

A database may hold another application's tables in ``public``. PostgREST
exposes ``public``, so a table there without row-level security is readable and
writable by any API role that holds a grant on it. The runner names such tables
(it never changes them: they are not the project's).
"""

from __future__ import annotations

import psycopg

API_ROLES = ("anon", "authenticated", "service_role")


def public_tables_without_rls(conn: psycopg.Connection) -> list[str]:
    """One line per table in public without RLS, with what each API role may do to it."""
    rows = conn.execute(
        """
        select 'public.' || quote_ident(c.relname),
            array(
                select r.rolname || ': ' || array_to_string(array(
                    select p.privilege
                    from unnest(array['select', 'insert', 'update', 'delete', 'truncate']) as p (privilege)
                    where has_table_privilege(r.oid, c.oid, p.privilege)
                ), ', ')
                from pg_catalog.pg_roles as r
                where r.rolname = any(%s)
                    and has_table_privilege(r.oid, c.oid, 'select, insert, update, delete, truncate')
                order by r.rolname
            )
        from pg_catalog.pg_class as c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity
        order by 1
        """,
        (list(API_ROLES),),
    ).fetchall()
    lines = []
    for table, grants in rows:
        reach = "; ".join(grants) if grants else "no API role holds a privilege on it today"
        lines.append(f"{table} has no row-level security ({reach})")
    return lines


def warnings(conn: psycopg.Connection) -> list[str]:
    found = public_tables_without_rls(conn)
    if found:
        found.append(
            "tables in public are exposed through PostgREST: enable row-level security on them "
            "(alter table ... enable row level security) or move them out of public"
        )
    return found
