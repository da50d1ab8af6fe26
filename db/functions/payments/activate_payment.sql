-- private.activate_payment: the one activation path, shared by the Paymob
-- callback and the admin InstaPay confirmation.
--
-- Called only by definer code that has just moved the payment to confirmed
-- while holding its row lock, so a payment activates exactly once. It makes
-- the workspace's live subscription active on the paid plan (renewing the
-- period when it is the same plan), sets workspaces.plan_key, lets the usage
-- domain take a tier snapshot and move this period's usage_limits
-- (private.on_plan_change), and writes one audit_logs row.
-- Lock order everywhere: payment, then subscription, then workspace (the
-- cancel trigger takes subscription then workspace), so they never deadlock.
-- The workspace is locked FOR NO KEY UPDATE, never FOR UPDATE: record_usage
-- holds a usage_limits row while its alert insert's foreign key takes FOR KEY
-- SHARE on the workspace, and on_plan_change then waits for that usage_limits
-- row; a FOR UPDATE here would block that KEY SHARE and deadlock (40P01).
create or replace function private.activate_payment(payment_id uuid, reason text)
returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_payment public.payments;
    v_before jsonb;
    v_old_plan text;
    v_subscription public.subscriptions;
begin
    select p.* into v_payment
    from public.payments as p
    where p.id = activate_payment.payment_id;
    if v_payment.id is null or v_payment.status <> 'confirmed' then
        raise exception using
            errcode = '55000',
            message = 'payment_not_confirmed',
            detail = pg_catalog.format('payment %s is %s', activate_payment.payment_id, v_payment.status),
            hint = 'Only a confirmed payment activates a plan.';
    end if;

    select pg_catalog.to_jsonb(s.*) into v_before
    from public.subscriptions as s
    where s.workspace_id = v_payment.workspace_id and s.status <> 'canceled';

    insert into public.subscriptions as s (
        workspace_id, plan_key, status, current_period_start, current_period_end, payment_id
    )
    values (
        v_payment.workspace_id, v_payment.plan_key, 'active',
        pg_catalog.now(), pg_catalog.now() + interval '1 month', v_payment.id
    )
    on conflict (workspace_id) where status <> 'canceled' do update set
        -- Paying again for the plan in force extends the period; a new plan starts one.
        current_period_start = case
            when s.plan_key = excluded.plan_key and s.status = 'active' and s.current_period_end > pg_catalog.now()
                then s.current_period_start
            else excluded.current_period_start
        end,
        current_period_end = case
            when s.plan_key = excluded.plan_key and s.status = 'active' and s.current_period_end > pg_catalog.now()
                then s.current_period_end + interval '1 month'
            else excluded.current_period_end
        end,
        plan_key = excluded.plan_key,
        status = 'active',
        payment_id = excluded.payment_id
    returning s.* into v_subscription;

    select w.plan_key into v_old_plan
    from public.workspaces as w
    where w.id = v_payment.workspace_id
    for no key update;
    update public.workspaces as w
    set plan_key = v_payment.plan_key
    where w.id = v_payment.workspace_id and w.plan_key is distinct from v_payment.plan_key;

    perform private.on_plan_change(v_payment.workspace_id, v_payment.plan_key, activate_payment.reason);

    perform private.audit(
        'subscription.activated',
        'subscriptions',
        v_subscription.id::text,
        v_payment.workspace_id,
        pg_catalog.jsonb_build_object('subscription', v_before, 'workspace_plan_key', v_old_plan),
        pg_catalog.to_jsonb(v_subscription) || pg_catalog.jsonb_build_object(
            'provider', v_payment.provider,
            'amount_minor', v_payment.amount_minor,
            'currency', v_payment.currency,
            'reference', v_payment.reference
        ),
        activate_payment.reason
    );
    return v_subscription.id;
end
$$;

comment on function private.activate_payment(uuid, text) is
'Activate the plan a confirmed, locked payment paid for: subscription, workspace plan, usage limits, audit.';
revoke all on function private.activate_payment(uuid, text) from public;
