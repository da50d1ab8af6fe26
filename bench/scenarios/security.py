"""Security scenarios.

* ``security_authenticate_api_key``: ``authenticate_api_key`` as service_role
  over 1,000 active keys of 1,000 workspaces: hash the presented key (SHA-256),
  one unique-index probe joined to the workspace, status/expiry/workspace checks,
  and ``last_used_at`` refreshed at most once a minute per key. Compared with
  ``update_spread`` (one indexed lookup-and-write over 1,000 rows), target >= 50%.
* ``security_member_reads_agents``: a member reading their workspace's agents
  through RLS (``is_workspace_member`` in a sub-select), a different user per
  transaction as PostgREST does, pipelined. Compared with ``insert_unique_key``
  only as a yardstick of one round trip of work; no target.

Raw keys are derived from a number (``opsk_`` + hex(sha256(n))), so the script
can present a valid key without a lookup table; the presented key's derivation
is one more SHA-256 and counts against the scenario.
"""

from __future__ import annotations

from bench.scenario import SERVICE_ROLE_SESSION, Scenario

KEYS = 1000
MEMBERS = 200
AGENTS_PER_WORKSPACE = 5

_WORKSPACES = f"""
    insert into auth.users (id, email)
    select ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, 'bench-' || g || '@example.test'
    from generate_series(1, {KEYS}) as g;
    insert into public.workspaces (id, name, owner_id, plan_key)
    select
        ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
        'bench ' || g,
        ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
        'pro'
    from generate_series(1, {KEYS}) as g;
"""

SCENARIOS: list[Scenario] = [
    Scenario(
        name="security_authenticate_api_key",
        description="authenticate_api_key over 1,000 active keys, as service_role",
        baseline="update_spread",
        target_ratio=0.50,
        session=SERVICE_ROLE_SESSION,
        variables={"keys": KEYS},
        setup=_WORKSPACES
        + f"""
    insert into public.workspace_api_keys (workspace_id, name, prefix, key_hash, scopes)
    select
        ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
        'bench key',
        left('opsk_' || encode(extensions.digest(g::text, 'sha256'), 'hex'), 13),
        encode(extensions.digest('opsk_' || encode(extensions.digest(g::text, 'sha256'), 'hex'), 'sha256'), 'hex'),
        array['calls:read']
    from generate_series(1, {KEYS}) as g;
""",
        script="""\\set k random(1, :keys)
select public.authenticate_api_key('opsk_' || encode(extensions.digest(:k::text, 'sha256'), 'hex'));
""",
    ),
    Scenario(
        name="security_member_reads_agents",
        description="a member lists their workspace's agents through RLS, per-request identity, pipelined",
        baseline="insert_unique_key",
        protocol="extended",
        variables={"members": MEMBERS},
        setup=_WORKSPACES
        + f"""
    insert into public.agents (workspace_id, user_id, agent_id, nickname)
    select w.id, w.owner_id, 'bench_agent_' || g || '_' || a, 'agent ' || a
    from generate_series(1, {KEYS}) as g
    cross join generate_series(1, {AGENTS_PER_WORKSPACE}) as a
    join public.workspaces as w on w.id = ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid;
""",
        script="""\\set user random(1, :members)
\\startpipeline
begin;
select
    set_config('role', 'authenticated', true),
    set_config('request.jwt.claims', json_build_object('role', 'authenticated',
        'sub', '00000000-0000-0000-0000-' || lpad(:user::text, 12, '0'))::text, true);
select count(*) from public.agents;
commit;
\\endpipeline
""",
    ),
]
