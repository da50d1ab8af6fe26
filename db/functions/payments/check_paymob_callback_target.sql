-- private.check_paymob_callback_target: may this signed Paymob callback settle
-- this payment? Nulls when it may, else the refusal word, its detail and the
-- other payment involved.
--
-- Paymob's HMAC covers the transaction (obj.id) and its order (obj.order.id) but
-- not merchant_order_id, so a signed callback may have been re-targeted at
-- another payment. Refused when: the payment is not a Paymob one
-- (provider_mismatch); the payment is bound to another Paymob order
-- (order_mismatch); its order or its transaction already belongs to another
-- payment (order_in_use, transaction_in_use). The first callback that may settle
-- the payment binds it to its order (paymob_order_id, unique), here.
-- The caller holds the payment locked. Called by private.process_paymob_callback.
create or replace function private.check_paymob_callback_target(
    payment public.payments,
    order_id text,
    transaction_id text,
    out refusal text,
    out detail text,
    out other_payment_id uuid
)
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_payment public.payments := check_paymob_callback_target.payment;
    v_order text := check_paymob_callback_target.order_id;
    v_txn text := check_paymob_callback_target.transaction_id;
begin
    if v_payment.provider <> 'paymob' then
        refusal := 'provider_mismatch';
        detail := pg_catalog.format('payment %s is an %s request', v_payment.id, v_payment.provider);
    elsif v_payment.paymob_order_id is not null and v_order is distinct from v_payment.paymob_order_id then
        refusal := 'order_mismatch';
        detail := pg_catalog.format('payment %s belongs to Paymob order %s', v_payment.id, v_payment.paymob_order_id);
    else
        select p.id into other_payment_id
        from public.payments as p
        where p.paymob_order_id = v_order and p.id <> v_payment.id;
        if other_payment_id is not null then
            refusal := 'order_in_use';
            detail := pg_catalog.format('Paymob order %s belongs to payment %s', v_order, other_payment_id);
        else
            select p.id into other_payment_id
            from public.payments as p
            where p.provider_reference = v_txn and p.id <> v_payment.id;
            if other_payment_id is not null then
                refusal := 'transaction_in_use';
                detail := pg_catalog.format('Paymob transaction %s settled payment %s', v_txn, other_payment_id);
            end if;
        end if;
    end if;
    if refusal is null and v_payment.paymob_order_id is null and v_order is not null then
        begin
            update public.payments as p
            set paymob_order_id = v_order
            where p.id = v_payment.id;
        exception when unique_violation then
            -- A concurrent callback bound the order to another payment first.
            refusal := 'order_in_use';
            detail := pg_catalog.format('Paymob order %s was just bound to another payment', v_order);
        end;
    end if;
end
$$;

comment on function private.check_paymob_callback_target(public.payments, text, text) is
'Why a signed Paymob callback may not settle this payment (merchant_order_id is unsigned), or nulls; binds the '
'payment to its Paymob order when it may.';
revoke all on function private.check_paymob_callback_target(public.payments, text, text) from public;
