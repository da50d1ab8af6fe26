"""``opsdb console``: the on-call web console for platform staff.

A small Starlette app served by uvicorn on 127.0.0.1 only. It signs in with a
one-time token printed in its URL (exchanged for an expiring session cookie),
and runs every read and every action as the platform admin named by ``--as``:
role ``authenticated`` with that admin's JWT claims, exactly as PostgREST would,
through the project's tables (RLS), views and audited functions. It never
writes a table directly.

Modules: :mod:`.db` (connections as the admin), :mod:`.security` (token,
sessions, CSRF, headers), :mod:`.keyset` (cursors), :mod:`.pages` (one module
per page), :mod:`.app` (the Starlette app), :mod:`.server` (uvicorn).
"""
