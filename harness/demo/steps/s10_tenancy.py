"""Tenancy and security: two workspaces that cannot see each other, and an API
key created, used and revoked (with the failure recorded and audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from harness import rpc as rpc_module
from harness.factories import acting_as

if TYPE_CHECKING:
    from harness.demo import DemoContext

TITLE = "Tenancy and security: workspaces isolated by RLS, an API key's life"


def run(ctx: DemoContext) -> None:
    f = ctx.factories
    acme = f.workspace(name="Acme Clinics", plan_key="pro")
    nile = f.workspace(name="Nile Couriers")
    ctx.notes["tenancy"] = {"acme": acme, "nile": nile}
    for ws in (acme, nile):
        channel = f.channel(ws, channel_type="whatsapp")
        f.message(f.conversation(ws, channel), body=f"Private note for {ws.name}")
    ctx.say(f"workspaces: {acme.name} (owner {acme.owner.email}) and {nile.name} (owner {nile.owner.email})")

    with acting_as(ctx.conn, nile.owner.jwt):
        theirs = ctx.conn.execute("select count(*) from public.messages where workspace_id = %s", (acme.id,)).fetchone()
        mine = ctx.conn.execute("select count(*) from public.messages").fetchone()
    ctx.say(
        f"{nile.name}'s owner reads {acme.name}'s messages: {theirs[0] if theirs else 0} row(s);"
        f" all messages visible to them: {mine[0] if mine else 0} (their own)"
    )

    key = f.api_key(acme, name="Clinic backend", scopes=["calls:read"])
    ctx.say(f"create_api_key as {acme.name}'s owner: {key.prefix}... (shown once; only its sha256 is stored)")
    stored = ctx.conn.execute(
        "select count(*) filter (where key_hash = encode(extensions.digest(%s, 'sha256'), 'hex')),"
        " count(*) filter (where k::text like %s) from public.workspace_api_keys as k",
        (key.raw, f"%{key.raw[13:]}%"),
    ).fetchone()
    assert stored is not None
    ctx.say(f"key rows holding its sha256: {stored[0]}; rows holding the key itself: {stored[1]}")

    who = ctx.rpc("authenticate_api_key", {"api_key": key.raw})
    ctx.say(f"authenticate_api_key (service_role): workspace {who['workspace_id']}, plan {who['plan_key']}")

    ctx.rpc("revoke_api_key", {"key_id": str(key.id), "reason": "demo: rotated"}, as_=acme.owner.jwt)
    ctx.say("revoke_api_key as the owner: revoked")
    with psycopg.connect(ctx.url, autocommit=True) as conn:
        response = rpc_module.call(conn, "authenticate_api_key", {"api_key": key.raw})
    ctx.say(f"the same key again: HTTP {response.status} {response.data['code']} {response.data['message']}")
    failures = ctx.conn.execute(
        "select reason, key_prefix from public.external_api_audit_logs where key_id = %s", (key.id,)
    ).fetchall()
    ctx.say(f"recorded in external_api_audit_logs: {failures}")
    audit = ctx.conn.execute(
        "select action from public.audit_logs where target_id = %s order by id", (str(key.id),)
    ).fetchall()
    ctx.say(f"audit_logs for the key: {', '.join(a for (a,) in audit)}")
