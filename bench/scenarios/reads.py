"""Tenant reads: a member's read through RLS with no workspace
filter costs the member's own rows.

Each pair runs the same statement shape, a per-request identity set in a pipeline
as PostgREST does, over the same data (1,000 workspaces, 200 usage events each):

* ``reads_service_filtered_count`` / ``reads_member_unfiltered_count``:
  service_role counting one workspace's ``usage_events`` (``where workspace_id =``),
  against a member of that workspace counting ``usage_events`` with no filter (RLS
  names the member's workspaces: ``workspace_id = any(...)``, from the index).
* ``reads_service_filtered_latest`` / ``reads_member_unfiltered_latest``: the 50
  latest events, the same way.

Every scenario is paired with ``insert_unique_key`` (the bench's baselines live in
``baselines.py``), so member and service_role are each measured against the same
yardstick in interleaved slices; the comparison that matters is the quotient
of the two ratios (member / service_role), goal within 1.5x: at least 67%.
`bench/README.md` reports it.
"""

from __future__ import annotations

from bench.scenario import Scenario

WORKSPACES = 1000
EVENTS_PER_WORKSPACE = 200

SETUP = f"""
    insert into auth.users (id, email)
    select ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, 'reads-' || g || '@example.test'
    from generate_series(1, {WORKSPACES}) as g;
    insert into public.workspaces (id, name, owner_id)
    select
        ('00000000-0000-0000-0001-' || lpad(g::text, 12, '0'))::uuid,
        'reads ' || g,
        ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid
    from generate_series(1, {WORKSPACES}) as g;
    -- Events of every workspace interleaved in time, as they arrive.
    insert into public.usage_events (workspace_id, metric, quantity, period_start, tier_snapshot_id, source,
        idempotency_key, occurred_at)
    select
        ('00000000-0000-0000-0001-' || lpad((1 + g % {WORKSPACES})::text, 12, '0'))::uuid,
        (array['sms', 'call_minutes', 'messages', 'llm_tokens'])[1 + g % 4],
        1,
        date_trunc('month', now())::date,
        1,
        'bench',
        'reads:' || g,
        now() - ({WORKSPACES * EVENTS_PER_WORKSPACE} - g) * interval '1 second'
    from generate_series(1, {WORKSPACES * EVENTS_PER_WORKSPACE}) as g;
"""


def _script(role: str, statement: str) -> str:
    subject = "'00000000-0000-0000-0000-' || lpad(:n::text, 12, '0')" if role == "authenticated" else "null"
    return f"""\\set n random(1, :workspaces)
\\startpipeline
begin;
select
    set_config('role', '{role}', true),
    set_config('request.jwt.claims', json_build_object('role', '{role}', 'sub', {subject})::text, true);
{statement}
commit;
\\endpipeline
"""


WORKSPACE = "('00000000-0000-0000-0001-' || lpad(:n::text, 12, '0'))::uuid"

SCENARIOS: list[Scenario] = [
    Scenario(
        name="reads_service_filtered_count",
        description="service_role counts one workspace's usage_events (workspace filter), pipelined identity",
        baseline="insert_unique_key",
        protocol="extended",
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script=_script("service_role", f"select count(*) from public.usage_events where workspace_id = {WORKSPACE};"),
    ),
    Scenario(
        name="reads_member_unfiltered_count",
        description="a member counts usage_events with no workspace filter (RLS), pipelined identity",
        baseline="insert_unique_key",
        protocol="extended",
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script=_script("authenticated", "select count(*) from public.usage_events;"),
    ),
    Scenario(
        name="reads_service_filtered_latest",
        description="service_role reads one workspace's 50 latest usage_events (workspace filter), pipelined identity",
        baseline="insert_unique_key",
        protocol="extended",
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script=_script(
            "service_role",
            f"select * from public.usage_events where workspace_id = {WORKSPACE} order by id desc limit 50;",
        ),
    ),
    Scenario(
        name="reads_member_unfiltered_latest",
        description="a member reads the 50 latest usage_events with no workspace filter (RLS), pipelined identity",
        baseline="insert_unique_key",
        protocol="extended",
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script=_script("authenticated", "select * from public.usage_events order by id desc limit 50;"),
    ),
]
