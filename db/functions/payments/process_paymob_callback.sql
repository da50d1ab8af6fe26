-- private.process_paymob_callback(payload, webhook_id): apply a Paymob
-- "transaction processed" callback whose HMAC the caller has already verified
-- (public.handle_paymob_callback, or the webhook pipeline with the
-- webhook_queue row id). Returns {payment_id, status, duplicate}.
--
-- The payment is found by obj.order.merchant_order_id = payments.reference and
-- locked, so duplicate deliveries and a racing admin confirmation serialize on
-- it and the state machine moves to confirmed at most once.
--
-- Paymob's HMAC covers the transaction (obj.id) and its order (obj.order.id)
-- but not merchant_order_id, so a signed callback may have been re-targeted at
-- another payment. It is refused (a critical payment_failure alert, nothing
-- else changed, answer {payment_id: null, status: 'rejected', refused: word})
-- when: the payment is not a Paymob one (provider_mismatch); the payment is
-- bound to another Paymob order (order_mismatch); its order or its transaction
-- already belongs to another payment (order_in_use, transaction_in_use). The
-- first verified callback binds the payment to its order (paymob_order_id,
-- unique), and a transaction id settles one payment at most (unique index).
--
-- The state machine:
--   success, not pending/voided/refunded, amount and currency as requested
--       pending|failed -> confirmed, and the plan is activated
--   success but amount or currency differ      pending|failed -> rejected + alert
--   declined (success false, not pending)      pending -> failed (+ info alert)
--   still pending                              no change
--   refunded or voided, the paying transaction confirmed -> refunded + alert;
--   refunded or voided, another transaction    no change + alert (e.g. the
--                                              refund of a second charge)
--   refunded or voided, before confirmation    pending -> failed
-- Anything else (a repeat, a late decline after payment) changes nothing and
-- answers duplicate = true. A failed attempt may be followed by a successful
-- retry of the same Paymob order, which confirms it.
-- Errors: 22023 malformed payload or not a TRANSACTION callback; PT404 no
-- payment with that reference. A refusal is an answer, not an error, so its
-- alert commits.
-- Callers: definer code and service_role only (it trusts that the HMAC held).
create or replace function private.process_paymob_callback(payload jsonb, webhook_id bigint default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_obj jsonb := process_paymob_callback.payload -> 'obj';
    v_reference text;
    v_txn text;
    v_order text;
    v_refusal text;
    v_refusal_detail text;
    v_other uuid;
    v_amount bigint;
    v_currency text;
    v_success boolean;
    v_pending boolean;
    v_reversed boolean;
    v_payment public.payments;
    v_after public.payments;
    v_subscription_id uuid;
begin
    if pg_catalog.jsonb_typeof(v_obj) is distinct from 'object'
        or coalesce(process_paymob_callback.payload ->> 'type', 'TRANSACTION') <> 'TRANSACTION' then
        raise exception using
            errcode = '22023',
            message = 'malformed_payload',
            detail = 'expected a Paymob transaction callback: {"type": "TRANSACTION", "obj": {...}}';
    end if;
    v_reference := v_obj #>> '{order,merchant_order_id}';
    v_txn := v_obj ->> 'id';
    v_order := v_obj #>> '{order,id}';
    if v_reference is null or v_txn is null
        or pg_catalog.jsonb_typeof(v_obj -> 'success') is distinct from 'boolean'
        or pg_catalog.jsonb_typeof(v_obj -> 'amount_cents') is distinct from 'number' then
        raise exception using
            errcode = '22023',
            message = 'malformed_payload',
            detail = 'obj.id, obj.success, obj.amount_cents and obj.order.merchant_order_id are required';
    end if;
    v_amount := (v_obj ->> 'amount_cents')::numeric;
    v_currency := v_obj ->> 'currency';
    v_success := (v_obj ->> 'success')::boolean;
    v_pending := coalesce((v_obj ->> 'pending')::boolean, false);
    v_reversed := coalesce((v_obj ->> 'is_refunded')::boolean, false) or coalesce((v_obj ->> 'is_voided')::boolean, false);

    select p.* into v_payment
    from public.payments as p
    where p.reference = v_reference
    for update;
    if v_payment.id is null then
        raise exception using
            errcode = 'PT404',
            message = 'payment_not_found',
            detail = pg_catalog.format('no payment with reference %L (Paymob transaction %s)', v_reference, v_txn),
            hint = 'obj.order.merchant_order_id must carry the reference create_payment_request returned.';
    end if;

    -- merchant_order_id is not signed: check the payment is this transaction's own.
    if v_payment.provider <> 'paymob' then
        v_refusal := 'provider_mismatch';
        v_refusal_detail := pg_catalog.format('payment %s is an %s request', v_payment.id, v_payment.provider);
    elsif v_payment.paymob_order_id is not null and v_order is distinct from v_payment.paymob_order_id then
        v_refusal := 'order_mismatch';
        v_refusal_detail := pg_catalog.format('payment %s belongs to Paymob order %s', v_payment.id, v_payment.paymob_order_id);
    else
        select p.id into v_other
        from public.payments as p
        where p.paymob_order_id = v_order and p.id <> v_payment.id;
        if v_other is not null then
            v_refusal := 'order_in_use';
            v_refusal_detail := pg_catalog.format('Paymob order %s belongs to payment %s', v_order, v_other);
        else
            select p.id into v_other
            from public.payments as p
            where p.provider_reference = v_txn and p.id <> v_payment.id;
            if v_other is not null then
                v_refusal := 'transaction_in_use';
                v_refusal_detail := pg_catalog.format('Paymob transaction %s settled payment %s', v_txn, v_other);
            end if;
        end if;
    end if;
    if v_refusal is null and v_payment.paymob_order_id is null and v_order is not null then
        begin
            update public.payments as p
            set paymob_order_id = v_order
            where p.id = v_payment.id;
            v_payment.paymob_order_id := v_order;
        exception when unique_violation then
            -- A concurrent callback bound the order to another payment first.
            v_refusal := 'order_in_use';
            v_refusal_detail := pg_catalog.format('Paymob order %s was just bound to another payment', v_order);
        end;
    end if;
    if v_refusal is not null then
        perform private.raise_alert(
            'payment_failure', 'payment_failure:paymob_refused:' || v_txn || ':' || v_payment.id,
            pg_catalog.format('Paymob transaction %s (order %s) refused for payment %s: %s; %s',
                v_txn, coalesce(v_order, 'unknown'), v_payment.reference, v_refusal, v_refusal_detail),
            null, 'critical',
            pg_catalog.jsonb_build_object(
                'payment_id', v_payment.id, 'transaction_id', v_txn, 'order_id', v_order,
                'merchant_order_id', v_reference, 'reason', v_refusal, 'other_payment_id', v_other,
                'webhook_id', process_paymob_callback.webhook_id
            )
        );
        return pg_catalog.jsonb_build_object(
            'payment_id', null, 'status', 'rejected', 'duplicate', false, 'refused', v_refusal
        );
    end if;

    if v_reversed then
        if v_payment.status = 'confirmed' and v_payment.provider_reference = v_txn then
            update public.payments as p
            set status = 'refunded', settled_at = pg_catalog.now(),
                failure_reason = 'refunded or voided at Paymob (transaction ' || v_txn || ')'
            where p.id = v_payment.id
            returning * into v_after;
            perform private.raise_alert(
                'payment_refunded', 'payment_refunded:' || v_payment.id,
                pg_catalog.format('Payment %s (%s) was refunded or voided at Paymob; the plan stays until support acts',
                    v_payment.reference, v_payment.plan_key),
                v_payment.workspace_id, 'warning',
                pg_catalog.jsonb_build_object('payment_id', v_payment.id, 'transaction_id', v_txn)
            );
        elsif v_payment.status = 'confirmed' then
            -- Another transaction of this order (a second charge, or one that never
            -- settled it) was refunded: the payment that paid stays confirmed.
            perform private.raise_alert(
                'payment_refunded', 'payment_refunded:other_transaction:' || v_txn,
                pg_catalog.format(
                    'Paymob refunded or voided transaction %s of order %s, not transaction %s that paid it; '
                    || 'payment unchanged',
                    v_txn, v_payment.reference, coalesce(v_payment.provider_reference, '(none recorded)')
                ),
                v_payment.workspace_id, 'warning',
                pg_catalog.jsonb_build_object(
                    'payment_id', v_payment.id, 'transaction_id', v_txn,
                    'paying_transaction_id', v_payment.provider_reference
                )
            );
        elsif v_payment.status = 'pending' then
            update public.payments as p
            set status = 'failed', provider_reference = v_txn, settled_at = pg_catalog.now(),
                webhook_id = process_paymob_callback.webhook_id,
                failure_reason = 'refunded or voided at Paymob before confirmation'
            where p.id = v_payment.id
            returning * into v_after;
        end if;
    elsif v_success and not v_pending then
        if v_payment.status in ('pending', 'failed')
            and (v_amount <> v_payment.amount_minor or v_currency is distinct from v_payment.currency) then
            update public.payments as p
            set status = 'rejected', provider_reference = v_txn, settled_at = pg_catalog.now(),
                webhook_id = process_paymob_callback.webhook_id,
                failure_reason = pg_catalog.format('paid %s %s, requested %s %s',
                    v_amount, v_currency, v_payment.amount_minor, v_payment.currency)
            where p.id = v_payment.id
            returning * into v_after;
            perform private.raise_alert(
                'payment_failure', 'payment_failure:mismatch:' || v_payment.id,
                pg_catalog.format('Paymob reported %s %s for payment %s, which requested %s %s; not activated',
                    v_amount, v_currency, v_payment.reference, v_payment.amount_minor, v_payment.currency),
                v_payment.workspace_id, 'critical',
                pg_catalog.jsonb_build_object(
                    'payment_id', v_payment.id, 'transaction_id', v_txn,
                    'paid_amount', v_amount, 'paid_currency', v_currency,
                    'requested_amount', v_payment.amount_minor, 'requested_currency', v_payment.currency
                )
            );
        elsif v_payment.status in ('pending', 'failed') then
            update public.payments as p
            set status = 'confirmed', provider_reference = v_txn, confirmed_at = pg_catalog.now(),
                settled_at = pg_catalog.now(), webhook_id = process_paymob_callback.webhook_id, failure_reason = null
            where p.id = v_payment.id
            returning * into v_after;
            v_subscription_id := private.activate_payment(
                v_payment.id, 'Paymob transaction ' || v_txn || ' confirmed payment ' || v_payment.reference
            );
        elsif v_payment.status = 'confirmed' and v_payment.provider_reference is null then
            -- Confirmed by an admin before Paymob's callback came: note the transaction, activate nothing.
            update public.payments as p
            set provider_reference = v_txn
            where p.id = v_payment.id;
        elsif v_payment.status = 'confirmed' and v_payment.provider_reference <> v_txn then
            -- A second successful transaction for an order already paid: money to return.
            perform private.raise_alert(
                'payment_failure', 'payment_failure:second_charge:' || v_txn,
                pg_catalog.format('Paymob transaction %s paid order %s again, already confirmed; refund it',
                    v_txn, v_payment.reference),
                v_payment.workspace_id, 'critical',
                pg_catalog.jsonb_build_object('payment_id', v_payment.id, 'transaction_id', v_txn)
            );
        end if;
    elsif not v_success and not v_pending then
        if v_payment.status = 'pending' then
            update public.payments as p
            set status = 'failed', provider_reference = v_txn, settled_at = pg_catalog.now(),
                webhook_id = process_paymob_callback.webhook_id,
                failure_reason = coalesce(v_obj #>> '{data,message}', 'declined')
            where p.id = v_payment.id
            returning * into v_after;
            perform private.raise_alert(
                'payment_failure', 'payment_failure:declined:' || v_payment.id,
                pg_catalog.format('Paymob declined transaction %s for payment %s', v_txn, v_payment.reference),
                v_payment.workspace_id, 'info',
                pg_catalog.jsonb_build_object('payment_id', v_payment.id, 'transaction_id', v_txn)
            );
        end if;
    end if;

    if v_after.id is not null then
        perform private.audit(
            'payment.' || v_after.status, 'payments', v_payment.id::text, v_payment.workspace_id,
            pg_catalog.jsonb_build_object('status', v_payment.status, 'provider_reference', v_payment.provider_reference),
            pg_catalog.jsonb_build_object(
                'status', v_after.status, 'provider_reference', v_after.provider_reference,
                'paymob_order_id', v_after.paymob_order_id, 'webhook_id', v_after.webhook_id, 'failure_reason', v_after.failure_reason
            ),
            'Paymob callback for transaction ' || v_txn
        );
    end if;
    return pg_catalog.jsonb_build_object(
        'payment_id', v_payment.id,
        'status', coalesce(v_after.status, v_payment.status),
        'duplicate', v_after.id is null,
        'subscription_id', v_subscription_id
    );
end
$$;

comment on function private.process_paymob_callback(jsonb, bigint) is
'Apply a verified Paymob transaction callback to its payment (locked; confirms and activates at most once).';
revoke all on function private.process_paymob_callback(jsonb, bigint) from public;
grant execute on function private.process_paymob_callback(jsonb, bigint) to service_role;
