-- private.decline_paymob_payment: Paymob declined a transaction of this payment's
-- order. Returns the payment as changed, or null.
--
-- A pending payment fails, with an info alert (a declined card is not a platform
-- failure). A late decline after payment, or a repeat, changes nothing. The
-- caller holds the payment locked and audits the change. Called by
-- private.process_paymob_callback.
create or replace function private.decline_paymob_payment(
    payment public.payments,
    transaction_id text,
    reason text,
    webhook_id bigint
)
returns public.payments
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_payment public.payments := decline_paymob_payment.payment;
    v_after public.payments;
begin
    if v_payment.status = 'pending' then
        update public.payments as p
        set status = 'failed', provider_reference = decline_paymob_payment.transaction_id,
            settled_at = pg_catalog.now(), webhook_id = decline_paymob_payment.webhook_id,
            failure_reason = decline_paymob_payment.reason
        where p.id = v_payment.id
        returning * into v_after;
        perform private.raise_alert(
            'payment_failure', 'payment_failure:declined:' || v_payment.id,
            pg_catalog.format(
                'Paymob declined transaction %s for payment %s', decline_paymob_payment.transaction_id,
                v_payment.reference
            ),
            v_payment.workspace_id, 'info',
            pg_catalog.jsonb_build_object(
                'payment_id', v_payment.id, 'transaction_id', decline_paymob_payment.transaction_id
            )
        );
    end if;
    return v_after;
end
$$;

comment on function private.decline_paymob_payment(public.payments, text, text, bigint) is
'Apply a declined Paymob transaction to its payment (a pending one fails, with an info alert); the changed row.';
revoke all on function private.decline_paymob_payment(public.payments, text, text, bigint) from public;
