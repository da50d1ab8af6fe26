"""The worked examples of bench/README.md: the unique INSERT made as an API call.

* ``service_role_insert``: every connection starts as ``service_role`` with its
  JWT claims (``Scenario.session``), so each transaction is the one function
  call under test: the shape domain scenarios should copy.
* ``member_insert_pipelined``: identity set per transaction, as PostgREST does
  for each request (``set_config('role', ...)`` and ``request.jwt.claims`` with
  a different user each time, local to the transaction), sent as one pipeline
  so it costs one round trip; the insert passes an RLS policy on ``auth.uid()``.

Their ratios to ``insert_unique_key`` are the price of the call wrapper alone,
so a domain scenario's ratio reads as wrapper + its own rules.
"""

from __future__ import annotations

from bench.scenario import SERVICE_ROLE_SESSION, Scenario

USERS = 1000

# User ids are derived from a number (...-000000000042), so a script names one without a lookup.
# Shared by both: a table under RLS and a SECURITY INVOKER function writing it.
SETUP = """
    create schema if not exists bench;
    create table bench.events (
        key uuid primary key,
        user_id uuid,
        value bigint not null
    );
    alter table bench.events enable row level security;
    create policy "Members insert their own events" on bench.events
        for insert to authenticated with check (user_id = (select auth.uid()));
    grant usage on schema bench to authenticated, service_role;
    grant insert on bench.events to authenticated, service_role;
    create function bench.record_event(value bigint)
    returns void
    language sql
    security invoker
    set search_path = ''
    as $$
        insert into bench.events (key, user_id, value)
        values (gen_random_uuid(), auth.uid(), record_event.value)
    $$;
    revoke all on function bench.record_event(bigint) from public;
    grant execute on function bench.record_event(bigint) to authenticated, service_role;
"""

SCENARIOS: list[Scenario] = [
    Scenario(
        name="service_role_insert",
        description="unique INSERT through a SECURITY INVOKER function, connection is service_role",
        baseline="insert_unique_key",
        setup=SETUP,
        session=SERVICE_ROLE_SESSION,
        script="""\\set value random(1, 1000000)
select bench.record_event(:value);
""",
    ),
    Scenario(
        name="member_insert_pipelined",
        description="same INSERT as a random authenticated user, identity set per transaction (pipelined), RLS checked",
        baseline="insert_unique_key",
        setup=SETUP,
        protocol="extended",
        variables={"users": USERS},
        script="""\\set user random(1, :users)
\\set value random(1, 1000000)
\\startpipeline
begin;
select
    set_config('role', 'authenticated', true),
    set_config(
        'request.jwt.claims',
        json_build_object(
            'role', 'authenticated',
            'sub', '00000000-0000-0000-0000-' || lpad(:user::text, 12, '0')
        )::text,
        true
    );
select bench.record_event(:value);
commit;
\\endpipeline
""",
    ),
]
