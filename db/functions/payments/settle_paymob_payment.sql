-- private.settle_paymob_payment: a Paymob transaction of this payment's order
-- succeeded. Returns the payment as changed, or null.
--
--   amount and currency as requested   pending|failed -> confirmed (the caller activates the plan)
--   amount or currency differ          pending|failed -> rejected + critical alert
--   confirmed by an admin first        the transaction is noted, nothing activated
--   another transaction, confirmed     no change + critical alert (a second charge to refund)
-- A repeat changes nothing. A failed attempt may be followed by a successful
-- retry of the same Paymob order, which confirms it. The caller holds the payment
-- locked and audits the change. Called by private.process_paymob_callback.
create or replace function private.settle_paymob_payment(
    payment public.payments,
    transaction_id text,
    amount bigint,
    currency text,
    webhook_id bigint
)
returns public.payments
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_payment public.payments := settle_paymob_payment.payment;
    v_txn text := settle_paymob_payment.transaction_id;
    v_amount bigint := settle_paymob_payment.amount;
    v_currency text := settle_paymob_payment.currency;
    v_after public.payments;
begin
    if v_payment.status in ('pending', 'failed')
        and (v_amount <> v_payment.amount_minor or v_currency is distinct from v_payment.currency) then
        update public.payments as p
        set status = 'rejected', provider_reference = v_txn, settled_at = pg_catalog.now(),
            webhook_id = settle_paymob_payment.webhook_id,
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
            settled_at = pg_catalog.now(), webhook_id = settle_paymob_payment.webhook_id, failure_reason = null
        where p.id = v_payment.id
        returning * into v_after;
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
    return v_after;
end
$$;

comment on function private.settle_paymob_payment(public.payments, text, bigint, text, bigint) is
'Apply a successful Paymob transaction to its payment (confirmed, or rejected for a mismatch, or an alert); the '
'changed row.';
revoke all on function private.settle_paymob_payment(public.payments, text, bigint, text, bigint) from public;
