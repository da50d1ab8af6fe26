-- Subscriptions: the incident playbook's kill switch works as written.
--
--   UPDATE public.subscriptions SET status = 'canceled' WHERE workspace_id = ...;
--
-- Canceling the live subscription drops the workspace to the free plan
-- (workspaces.plan_key = 'free', and private.on_plan_change moves this
-- period's usage_limits to free limits with a tier snapshot) and writes one
-- audit_logs row per canceled subscription. Re-running the statement changes
-- nothing more. SECURITY DEFINER because the DBA's session, not an API role,
-- usually runs it, and the plan change must happen whoever does.

create or replace function private.tg_subscriptions__stamp_canceled()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.status = 'canceled' and old.status <> 'canceled' then
        new.canceled_at := pg_catalog.now();
    elsif new.status <> 'canceled' and old.status = 'canceled' then
        raise exception using
            errcode = '55000',
            message = 'subscription_canceled',
            detail = pg_catalog.format('subscription %s is canceled', old.id),
            hint = 'A canceled subscription stays canceled; a new payment activates a new one.';
    end if;
    return new;
end
$$;

comment on function private.tg_subscriptions__stamp_canceled() is
'BEFORE UPDATE on subscriptions: stamp canceled_at; a canceled subscription cannot come back to life.';
revoke all on function private.tg_subscriptions__stamp_canceled() from public;

create or replace function private.tg_subscriptions__cancel()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_old_plan text;
begin
    -- Lock order as in activation: subscription (already locked by this UPDATE), then workspace,
    -- FOR NO KEY UPDATE so a usage alert's foreign key check (KEY SHARE) is not blocked while
    -- on_plan_change waits for that usage's usage_limits row (which would deadlock).
    select w.plan_key into v_old_plan
    from public.workspaces as w
    where w.id = new.workspace_id
    for no key update;
    update public.workspaces as w
    set plan_key = 'free'
    where w.id = new.workspace_id and w.plan_key <> 'free';
    perform private.on_plan_change(new.workspace_id, 'free', 'subscription ' || new.id || ' canceled');
    perform private.audit(
        'subscription.canceled',
        'subscriptions',
        new.id::text,
        new.workspace_id,
        pg_catalog.jsonb_build_object('status', old.status, 'plan_key', old.plan_key, 'workspace_plan_key', v_old_plan),
        pg_catalog.jsonb_build_object('status', new.status, 'plan_key', new.plan_key, 'workspace_plan_key', 'free'),
        'subscription canceled: workspace falls back to the free plan'
    );
    return null;
end
$$;

comment on function private.tg_subscriptions__cancel() is
'AFTER UPDATE on subscriptions when it becomes canceled: workspace to free plan and limits, audited.';
revoke all on function private.tg_subscriptions__cancel() from public;

create or replace trigger tg_subscriptions__stamp_canceled before update of status on public.subscriptions
for each row execute function private.tg_subscriptions__stamp_canceled();
create or replace trigger tg_subscriptions__cancel after update of status on public.subscriptions
for each row when (old.status <> 'canceled' and new.status = 'canceled')
execute function private.tg_subscriptions__cancel();

-- updated_at on both billing tables (the shared trigger function lives in db/functions/ops).
create or replace trigger tg_subscriptions__set_updated_at before update on public.subscriptions
for each row execute function private.tg_set_updated_at();
create or replace trigger tg_payments__set_updated_at before update on public.payments
for each row execute function private.tg_set_updated_at();
