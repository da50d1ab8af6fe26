-- private.reverse_paymob_payment: a Paymob transaction of this payment's order
-- was refunded or voided. Returns the payment as changed, or null.
--
--   the paying transaction, confirmed   -> refunded + alert (the plan stays until support acts)
--   another transaction, confirmed      no change + alert (e.g. the refund of a second charge)
--   before confirmation (pending)       -> failed
-- Anything else changes nothing. The caller holds the payment locked and audits
-- the change. Called by private.process_paymob_callback.
create or replace function private.reverse_paymob_payment(
    payment public.payments,
    transaction_id text,
    webhook_id bigint
)
returns public.payments
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_payment public.payments := reverse_paymob_payment.payment;
    v_txn text := reverse_paymob_payment.transaction_id;
    v_after public.payments;
begin
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
            webhook_id = reverse_paymob_payment.webhook_id,
            failure_reason = 'refunded or voided at Paymob before confirmation'
        where p.id = v_payment.id
        returning * into v_after;
    end if;
    return v_after;
end
$$;

comment on function private.reverse_paymob_payment(public.payments, text, bigint) is
'Apply a refunded or voided Paymob transaction to its payment (refunded, failed, or an alert only); the changed row.';
revoke all on function private.reverse_paymob_payment(public.payments, text, bigint) from public;
