-- create_payment_request(workspace_id, plan_key, provider): a pending payment
-- at the plan's current price, with a unique reference the payer quotes
-- (the InstaPay transfer note; Paymob's merchant_order_id).
--
-- Who: the workspace's owners and admins (authenticated). Creating a request
-- never changes the plan: only a confirmation does.
-- Returns {payment_id, amount, currency, reference, status, provider, plan_key}.
-- Errors: 42501 not an owner/admin of the workspace; 22023 unknown provider or
-- a plan that is free or inactive; PT404 no such plan.

create or replace function private._create_payment_request(workspace_id uuid, plan_key text, provider text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_plan public.plans;
    v_payment public.payments;
begin
    if not (select private.is_workspace_admin(_create_payment_request.workspace_id)) then
        raise exception using
            errcode = '42501',
            message = 'not_workspace_admin',
            detail = pg_catalog.format('workspace %s', _create_payment_request.workspace_id),
            hint = 'Only the workspace''s owners and admins can request a payment.';
    end if;
    if _create_payment_request.provider is null or _create_payment_request.provider not in ('paymob', 'instapay') then
        raise exception using
            errcode = '22023',
            message = 'unknown_provider',
            detail = pg_catalog.format('provider %L', _create_payment_request.provider),
            hint = 'Use paymob or instapay.';
    end if;
    select p.* into v_plan from public.plans as p where p.key = _create_payment_request.plan_key;
    if v_plan.key is null then
        raise exception using
            errcode = 'PT404',
            message = 'plan_not_found',
            detail = pg_catalog.format('plan %L', _create_payment_request.plan_key);
    end if;
    if not v_plan.is_paid or not v_plan.is_active then
        raise exception using
            errcode = '22023',
            message = 'plan_not_payable',
            detail = pg_catalog.format('plan %L (paid: %s, active: %s)', v_plan.key, v_plan.is_paid, v_plan.is_active),
            hint = 'Request a payment for an active paid plan.';
    end if;

    -- 40 random bits: a collision is rare, and the unique index turns it into a retry.
    loop
        begin
            insert into public.payments (
                workspace_id, plan_key, provider, amount_minor, currency, reference, requested_by
            )
            values (
                _create_payment_request.workspace_id,
                v_plan.key,
                _create_payment_request.provider,
                v_plan.price_minor,
                v_plan.currency,
                'OPS-' || pg_catalog.upper(pg_catalog.encode(extensions.gen_random_bytes(5), 'hex')),
                (select auth.uid())
            )
            returning * into v_payment;
            exit;
        exception when unique_violation then
            null;
        end;
    end loop;

    perform private.audit(
        'payment.requested', 'payments', v_payment.id::text, v_payment.workspace_id,
        null, pg_catalog.to_jsonb(v_payment), null
    );
    return pg_catalog.jsonb_build_object(
        'payment_id', v_payment.id,
        'amount', v_payment.amount_minor,
        'currency', v_payment.currency,
        'reference', v_payment.reference,
        'status', v_payment.status,
        'provider', v_payment.provider,
        'plan_key', v_payment.plan_key
    );
end
$$;

comment on function private._create_payment_request(uuid, text, text) is
'Definer body of create_payment_request: checks the caller is a workspace owner/admin itself.';
revoke all on function private._create_payment_request(uuid, text, text) from public;
grant execute on function private._create_payment_request(uuid, text, text) to authenticated;

create or replace function public.create_payment_request(workspace_id uuid, plan_key text, provider text)
returns jsonb
language sql
volatile
set search_path = ''
as $$
    select private._create_payment_request(
        create_payment_request.workspace_id, create_payment_request.plan_key, create_payment_request.provider
    )
$$;

comment on function public.create_payment_request(uuid, text, text) is
'Workspace owners/admins: a pending payment at the plan''s price with a unique reference. Never changes the plan.';
revoke all on function public.create_payment_request(uuid, text, text) from public;
grant execute on function public.create_payment_request(uuid, text, text) to authenticated;
