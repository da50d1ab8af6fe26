-- Billing mismatch diagnostics: the review's "Billing mismatch" playbook step
-- ("inspect the subscriptions and payments tables") as one query for support.

create view public.billing_mismatches with (security_invoker = true) as
with latest_confirmed as (
    select distinct on (p.workspace_id) p.*
    from public.payments as p
    where p.status = 'confirmed'
    order by p.workspace_id asc, p.confirmed_at desc
)

-- Paid within the last period, but the plan paid for is not in force.
select
    'confirmed_payment_without_subscription'::text as kind,
    lc.workspace_id,
    lc.id as payment_id,
    null::uuid as subscription_id,
    lc.plan_key,
    lc.status,
    lc.confirmed_at as since,
    pg_catalog.format(
        'payment %s (%s %s %s) has no active subscription on plan %s',
        lc.reference, lc.provider, lc.amount_minor, lc.currency, lc.plan_key
    ) as detail
from latest_confirmed as lc
where lc.confirmed_at > pg_catalog.now() - interval '1 month'
    and not exists (
        select 1
        from public.subscriptions as s
        where s.workspace_id = lc.workspace_id
            and s.plan_key = lc.plan_key
            and s.status in ('active', 'trialing')
    )

union all

-- A paid plan in force that nobody paid for (or whose payment was refunded).
select
    'paid_subscription_without_payment'::text as kind,
    s.workspace_id,
    null::uuid as payment_id,
    s.id as subscription_id,
    s.plan_key,
    s.status,
    s.current_period_start as since,
    pg_catalog.format('subscription %s is active on paid plan %s with no confirmed payment', s.id, s.plan_key) as detail
from public.subscriptions as s
inner join public.plans as pl on s.plan_key = pl.key
where s.status = 'active'
    and pl.is_paid
    and not exists (
        select 1
        from public.payments as p
        where p.workspace_id = s.workspace_id
            and p.plan_key = s.plan_key
            and p.status = 'confirmed'
    )

union all

-- Requests nobody settled: the payer gave up, or a callback or confirmation was lost.
-- The threshold defaults to one hour; `set opsdb.billing_pending_threshold = '30 minutes'` changes it.
select
    'payment_stuck_pending'::text as kind,
    p.workspace_id,
    p.id as payment_id,
    null::uuid as subscription_id,
    p.plan_key,
    p.status,
    p.created_at as since,
    pg_catalog.format('payment %s (%s) pending since %s', p.reference, p.provider, p.created_at) as detail
from public.payments as p
where p.status = 'pending'
    and p.created_at < pg_catalog.now() - coalesce(
        nullif(pg_catalog.current_setting('opsdb.billing_pending_threshold', true), '')::interval,
        interval '1 hour'
    )

union all

-- The plan in force disagrees with the live subscription (or there is none behind a paid plan).
select
    'workspace_plan_drift'::text as kind,
    w.id as workspace_id,
    null::uuid as payment_id,
    s.id as subscription_id,
    w.plan_key,
    coalesce(s.status, 'none') as status,
    w.updated_at as since,
    pg_catalog.format(
        'workspace is on plan %s, its live subscription on %s',
        w.plan_key, coalesce(s.plan_key || ' (' || s.status || ')', 'nothing')
    ) as detail
from public.workspaces as w
inner join public.plans as pl on w.plan_key = pl.key
left join public.subscriptions as s on w.id = s.workspace_id and s.status <> 'canceled'
where (s.id is null and pl.is_paid)
    or (s.id is not null and s.status in ('active', 'trialing') and s.plan_key <> w.plan_key);

comment on view public.billing_mismatches is
'Billing mismatch diagnostics for support: paid but not in force, in force but unpaid, stuck pending, plan drift.';

revoke all on public.billing_mismatches from anon;
revoke insert, update, delete, truncate on public.billing_mismatches from authenticated, service_role;
