"""Usage and credits scenarios: each is the API call as service_role.

* ``usage_deduct_hot``: ``deduct_credits`` on one wallet from every client, vs
  ``update_hot_row`` (target >= 40%).
* ``usage_deduct_spread``: ``deduct_credits`` over 1,000 wallets, vs
  ``update_spread`` (target >= 50%).
* ``usage_record_spread``: ``record_usage`` with a fresh idempotency key over 1,000
  workspaces, vs ``insert_unique_key`` (target >= 40%).
* ``usage_rate_limit``: ``check_rate_limit`` over 1,000 workspaces, vs
  ``insert_unique_key`` (no slower than the fixed windows it replaced: 38%; GCRA
  state is one UNLOGGED timestamp per key, upserted).
* ``usage_floor_*``: the same two writes as plain SQL (one statement, superuser,
  no function, no checks): the floor the functions are measured against, so a
  ratio reads as "the design's two writes" plus "the function's rules".
* ``usage_floor_call``: record_usage's call with nothing inside: a public
  SECURITY INVOKER function calling a private SECURITY DEFINER one (both
  PL/pgSQL with a pinned search_path, as every API function here) with the same
  arguments and answer, as service_role. What the call alone costs.

Workspace ids are derived from a number (...-000000000042) so a script names one
without a lookup. Wallets are funded far beyond what a run can spend, the plans'
limits are raised out of reach, and each workspace's period rows are created in
setup, so every measured transaction takes the hot path and none fails.
"""

from __future__ import annotations

from bench.scenario import SERVICE_ROLE_SESSION, Scenario

WORKSPACES = 1000
WS_ID = "('00000000-0000-0000-0000-' || lpad(:w::text, 12, '0'))::uuid"

SETUP = f"""
    insert into auth.users (id, email)
    values ('00000000-0000-0000-0000-ffffffffffff', 'bench-owner@example.test');
    -- A plan whose limits a run cannot reach: the bench measures the path, not the refusal.
    insert into public.plans (key, name, is_paid, price_minor) values ('bench', 'Bench', true, 1);
    insert into public.plan_limits (plan_key, metric, soft_limit, hard_limit, unit_price_minor)
    select 'bench', key, 1e14, 1e15, 1 from public.usage_metrics;
    insert into public.plan_rate_limits (plan_key, bucket, max_requests, window_seconds)
    values ('bench', 'api', 2000000000, 60);
    insert into public.workspaces (id, name, owner_id, plan_key)
    select
        ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
        'bench ' || g,
        '00000000-0000-0000-0000-ffffffffffff',
        'bench'
    from generate_series(1, {WORKSPACES}) as g;
    insert into public.workspace_wallets (workspace_id, balance)
    select id, 1e15 from public.workspaces where name like 'bench %';
    insert into public.wallet_ledger (workspace_id, kind, amount, balance_after, reason, actor_role)
    select workspace_id, 'grant', balance, balance, 'bench funding', 'postgres' from public.workspace_wallets;
    select private.ensure_usage_period(id, private.usage_period()) from public.workspaces where name like 'bench %';
"""

# The two writes of deduct_credits without the function around them (see usage_floor_*).
FLOOR_DEDUCT = """with w as (
    update public.workspace_wallets set balance = balance - 1, updated_at = now()
    where workspace_id = {ws} and balance >= 1
    returning workspace_id, balance
)
insert into public.wallet_ledger (workspace_id, kind, amount, balance_after, reason, actor_role)
select workspace_id, 'deduct', -1, balance, 'bench', 'postgres' from w;
""".format(ws=WS_ID)

# record_usage's call shape with no work inside (usage_floor_call).
NOOP_CALL = """
    create schema if not exists bench;
    create function bench.noop_definer(workspace_id uuid, metric text, quantity numeric, idempotency_key text)
    returns jsonb language plpgsql volatile security definer set search_path = '' as $$
    begin
        return pg_catalog.jsonb_build_object(
            'limit_state', 'ok', 'used', noop_definer.quantity, 'soft_limit', 1e14, 'hard_limit', 1e15,
            'duplicate', false, 'event_id', 1, 'metric', noop_definer.metric, 'period_start', current_date
        );
    end
    $$;
    create function bench.noop_call(
        workspace_id uuid, metric text, quantity numeric, idempotency_key text default null, source text default null
    )
    returns jsonb language plpgsql volatile set search_path = '' as $$
    begin
        return bench.noop_definer(noop_call.workspace_id, noop_call.metric, noop_call.quantity, noop_call.idempotency_key);
    end
    $$;
    grant usage on schema bench to service_role;
    grant execute on function bench.noop_call(uuid, text, numeric, text, text) to service_role;
    grant execute on function bench.noop_definer(uuid, text, numeric, text) to service_role;
"""

SCENARIOS: list[Scenario] = [
    Scenario(
        name="usage_deduct_hot",
        description="deduct_credits on one hot wallet from every client, as service_role",
        baseline="update_hot_row",
        target_ratio=0.40,
        session=SERVICE_ROLE_SESSION,
        setup=SETUP,
        script="""\\set w 1
select public.deduct_credits(workspace_id => {ws}, amount => 1, reason => 'bench');
""".format(ws=WS_ID),
    ),
    Scenario(
        name="usage_deduct_spread",
        description="deduct_credits over 1,000 funded wallets, as service_role",
        baseline="update_spread",
        target_ratio=0.50,
        session=SERVICE_ROLE_SESSION,
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script="""\\set w random(1, :workspaces)
select public.deduct_credits(workspace_id => {ws}, amount => 1, reason => 'bench');
""".format(ws=WS_ID),
    ),
    Scenario(
        name="usage_record_spread",
        description="record_usage with a fresh idempotency key over 1,000 workspaces, as service_role",
        baseline="insert_unique_key",
        target_ratio=0.40,
        session=SERVICE_ROLE_SESSION,
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script="""\\set w random(1, :workspaces)
select public.record_usage(
    workspace_id => {ws}, metric => 'messages', quantity => 1, idempotency_key => gen_random_uuid()::text
);
""".format(ws=WS_ID),
    ),
    Scenario(
        name="usage_rate_limit",
        description="check_rate_limit over 1,000 workspaces (GCRA, one UNLOGGED timestamp per key), as service_role",
        baseline="insert_unique_key",
        target_ratio=0.38,
        session=SERVICE_ROLE_SESSION,
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script="""\\set w random(1, :workspaces)
select public.check_rate_limit(workspace_id => {ws}, bucket => 'api');
""".format(ws=WS_ID),
    ),
    Scenario(
        name="usage_floor_deduct_hot",
        description="floor of usage_deduct_hot: the wallet UPDATE and ledger INSERT as one plain SQL statement",
        baseline="update_hot_row",
        setup=SETUP,
        script=FLOOR_DEDUCT.replace(":w::text", "'1'"),
    ),
    Scenario(
        name="usage_floor_deduct_spread",
        description="floor of usage_deduct_spread: the wallet UPDATE and ledger INSERT as one plain SQL statement",
        baseline="update_spread",
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script="\\set w random(1, :workspaces)\n" + FLOOR_DEDUCT,
    ),
    Scenario(
        name="usage_floor_record_spread",
        description="floor of usage_record_spread: the usage_limits UPDATE and usage_events INSERT as one SQL statement",
        baseline="insert_unique_key",
        variables={"workspaces": WORKSPACES},
        setup=SETUP,
        script="""\\set w random(1, :workspaces)
with u as (
    update public.usage_limits set used = used + 1, updated_at = now()
    where workspace_id = {ws} and metric = 'messages' and period_start = date_trunc('month', now() at time zone 'utc')::date
        and used < hard_limit
    returning workspace_id, period_start, tier_snapshot_id
)
insert into public.usage_events (workspace_id, metric, quantity, period_start, tier_snapshot_id, idempotency_key)
select workspace_id, 'messages', 1, period_start, tier_snapshot_id, gen_random_uuid()::text from u
on conflict (workspace_id, idempotency_key) where idempotency_key is not null do nothing;
""".format(ws=WS_ID),
    ),
    Scenario(
        name="usage_floor_call",
        description="floor of usage_record_spread: record_usage's call (invoker -> definer, same arguments and answer) doing nothing",
        baseline="insert_unique_key",
        session=SERVICE_ROLE_SESSION,
        variables={"workspaces": WORKSPACES},
        setup=NOOP_CALL,
        script="""\\set w random(1, :workspaces)
select bench.noop_call(
    workspace_id => {ws}, metric => 'messages', quantity => 1, idempotency_key => gen_random_uuid()::text
);
""".format(ws=WS_ID),
    ),
]
