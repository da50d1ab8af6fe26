-- confirm_instapay_payment(payment_id, bank_reference): a platform admin has
-- seen the InstaPay transfer arrive and confirms the request it pays for.
--
-- Who: platform admins only (42501 for everyone else, workspace owners and
-- admins included). Idempotent: confirming again with the same bank
-- reference, or after the payment was confirmed by a Paymob callback, answers
-- the confirmed payment again and activates nothing a second time (the
-- payment row is locked, and only pending or failed moves to confirmed).
-- Returns {payment_id, status, subscription_id, plan_key, duplicate}.
-- Errors: 22023 empty bank reference; PT404 no such payment; PT409 already
-- confirmed with another bank reference, that bank reference already settled
-- another payment (also when that confirmation raced this one), or the
-- payment was rejected or refunded.

create or replace function private._confirm_instapay_payment(payment_id uuid, bank_reference text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_reference text := pg_catalog.btrim(_confirm_instapay_payment.bank_reference);
    v_payment public.payments;
    v_other uuid;
    v_subscription_id uuid;
begin
    if not (select private.is_admin()) then
        raise exception using
            errcode = '42501',
            message = 'admin_only',
            detail = pg_catalog.format('payment %s', _confirm_instapay_payment.payment_id),
            hint = 'Only a platform admin confirms InstaPay transfers.';
    end if;
    if v_reference is null or v_reference = '' or pg_catalog.length(v_reference) > 128 then
        raise exception using
            errcode = '22023',
            message = 'invalid_bank_reference',
            hint = 'Give the bank''s reference of the InstaPay transfer (1 to 128 characters).';
    end if;

    select p.* into v_payment
    from public.payments as p
    where p.id = _confirm_instapay_payment.payment_id
    for update;
    if v_payment.id is null then
        raise exception using
            errcode = 'PT404',
            message = 'payment_not_found',
            detail = pg_catalog.format('payment %s', _confirm_instapay_payment.payment_id);
    end if;

    if v_payment.status = 'confirmed' then
        if v_payment.bank_reference is not null and v_payment.bank_reference <> v_reference then
            raise exception using
                errcode = 'PT409',
                message = 'payment_already_confirmed',
                detail = pg_catalog.format('payment %s was confirmed with bank reference %s, not %s',
                    v_payment.id, v_payment.bank_reference, v_reference);
        end if;
        return pg_catalog.jsonb_build_object(
            'payment_id', v_payment.id,
            'status', v_payment.status,
            'subscription_id', (
                select s.id from public.subscriptions as s
                where s.workspace_id = v_payment.workspace_id and s.status <> 'canceled'
            ),
            'plan_key', v_payment.plan_key,
            'duplicate', true
        );
    end if;
    if v_payment.status not in ('pending', 'failed') then
        raise exception using
            errcode = 'PT409',
            message = 'payment_not_confirmable',
            detail = pg_catalog.format('payment %s is %s', v_payment.id, v_payment.status),
            hint = 'Rejected and refunded payments need a new payment request.';
    end if;
    select p.id into v_other from public.payments as p where p.bank_reference = v_reference;
    if v_other is not null then
        raise exception using
            errcode = 'PT409',
            message = 'bank_reference_in_use',
            detail = pg_catalog.format('bank reference %s already settled payment %s', v_reference, v_other);
    end if;

    begin
        update public.payments as p
        set status = 'confirmed', bank_reference = v_reference, confirmed_by = (select auth.uid()),
            confirmed_at = pg_catalog.now(), settled_at = pg_catalog.now(), failure_reason = null
        where p.id = v_payment.id;
    exception when unique_violation then
        -- A concurrent confirmation with the same bank reference committed after our
        -- check above: the unique index decides, and the answer is the same PT409.
        select p.id into v_other from public.payments as p where p.bank_reference = v_reference;
        raise exception using
            errcode = 'PT409',
            message = 'bank_reference_in_use',
            detail = pg_catalog.format('bank reference %s already settled payment %s', v_reference, v_other);
    end;
    perform private.audit(
        'payment.confirmed', 'payments', v_payment.id::text, v_payment.workspace_id,
        pg_catalog.jsonb_build_object('status', v_payment.status),
        pg_catalog.jsonb_build_object('status', 'confirmed', 'bank_reference', v_reference),
        'InstaPay transfer confirmed by a platform admin'
    );
    v_subscription_id := private._activate_payment(
        v_payment.id, 'InstaPay transfer ' || v_reference || ' confirmed payment ' || v_payment.reference
    );
    return pg_catalog.jsonb_build_object(
        'payment_id', v_payment.id,
        'status', 'confirmed',
        'subscription_id', v_subscription_id,
        'plan_key', v_payment.plan_key,
        'duplicate', false
    );
end
$$;

comment on function private._confirm_instapay_payment(uuid, text) is
'Definer body of confirm_instapay_payment: checks the caller is a platform admin itself.';
revoke all on function private._confirm_instapay_payment(uuid, text) from public;
grant execute on function private._confirm_instapay_payment(uuid, text) to authenticated;

create or replace function public.confirm_instapay_payment(payment_id uuid, bank_reference text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    return private._confirm_instapay_payment(
        confirm_instapay_payment.payment_id, confirm_instapay_payment.bank_reference
    );
exception when lock_not_available then
    -- A stuck row lock is a 503 lock_timeout (see private._lock_timeout), not a 500.
    return private._lock_timeout(
        'confirm_instapay_payment', pg_catalog.format('payment %s', confirm_instapay_payment.payment_id)
    );
end
$$;

comment on function public.confirm_instapay_payment(uuid, text) is
'Platform admins: confirm an InstaPay transfer for a payment request and activate its plan, once.';
revoke all on function public.confirm_instapay_payment(uuid, text) from public;
grant execute on function public.confirm_instapay_payment(uuid, text) to authenticated;
