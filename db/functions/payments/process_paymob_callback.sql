-- private.process_paymob_callback: apply a Paymob "transaction processed"
-- callback whose HMAC the caller has already verified (public.handle_paymob_callback,
-- or the webhook pipeline with the webhook_queue row id). Returns {payment_id,
-- status, duplicate, subscription_id}.
--
-- The payment is found by obj.order.merchant_order_id = payments.reference and
-- locked, so duplicate deliveries and a racing admin confirmation serialize on
-- it and the state machine moves to confirmed at most once.
--
-- Paymob's HMAC does not cover merchant_order_id, so a signed callback may have
-- been re-targeted at another payment: it is refused (a critical payment_failure
-- alert, nothing else changed, answer {payment_id: null, status: 'rejected',
-- refused: word}) unless the payment is its own (private.check_paymob_callback_target,
-- which also binds the payment to its Paymob order).
--
-- The state machine, one helper per kind of transaction:
--   refunded or voided      private.reverse_paymob_payment
--   success, not pending    private.settle_paymob_payment (confirmed: the plan is
--                           activated here, private.activate_payment)
--   declined                private.decline_paymob_payment
--   still pending           no change
-- Anything else (a repeat, a late decline after payment) changes nothing and
-- answers duplicate = true. Every change is audited here.
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
    select c.refusal, c.detail, c.other_payment_id
    into v_refusal, v_refusal_detail, v_other
    from private.check_paymob_callback_target(v_payment, v_order, v_txn) as c;
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
        v_after := private.reverse_paymob_payment(v_payment, v_txn, process_paymob_callback.webhook_id);
    elsif v_success and not v_pending then
        v_after := private.settle_paymob_payment(
            v_payment, v_txn, v_amount, v_currency, process_paymob_callback.webhook_id
        );
    elsif not v_success and not v_pending then
        v_after := private.decline_paymob_payment(
            v_payment, v_txn, coalesce(v_obj #>> '{data,message}', 'declined'), process_paymob_callback.webhook_id
        );
    end if;
    if v_after.status = 'confirmed' then
        v_subscription_id := private.activate_payment(
            v_payment.id, 'Paymob transaction ' || v_txn || ' confirmed payment ' || v_payment.reference
        );
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
