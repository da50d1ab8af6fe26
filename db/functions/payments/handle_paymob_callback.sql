-- handle_paymob_callback(payload, hmac): Paymob's "transaction processed"
-- callback, as an Edge Function receives it (body and the hmac query parameter).
--
-- Who: service_role. Verifies the HMAC (private.verify_paymob_hmac), then
-- applies it (private.process_paymob_callback). A wrong HMAC changes nothing
-- but a payment_failure alert, and the response carries HTTP 401 with
-- {payment_id: null, status: 'rejected'}: the alert must commit, so this is an
-- answer rather than an error. A signed callback re-targeted at a payment that
-- is not its own (see private.process_paymob_callback) is answered the same
-- way with HTTP 409 and {refused: word}. Returns {payment_id, status, duplicate}.
-- Errors: 22023 malformed payload; PT404 no payment with that reference.

create or replace function private._handle_paymob_callback(payload jsonb, hmac text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_reference text := _handle_paymob_callback.payload #>> '{obj,order,merchant_order_id}';
    v_result jsonb;
begin
    if not private.is_service_role() then
        raise exception using
            errcode = '42501',
            message = 'service_role_only',
            hint = 'Paymob callbacks are handled by a backend holding the service_role key.';
    end if;
    if not private.verify_paymob_hmac(_handle_paymob_callback.payload, _handle_paymob_callback.hmac) then
        perform private.raise_alert(
            'payment_failure',
            'payment_failure:paymob_signature:' || coalesce(v_reference, 'unknown'),
            pg_catalog.format('Paymob callback with an invalid HMAC refused (order %s)', coalesce(v_reference, 'unknown')),
            null,
            'critical',
            pg_catalog.jsonb_build_object(
                'merchant_order_id', v_reference,
                'transaction_id', _handle_paymob_callback.payload #>> '{obj,id}'
            )
        );
        perform pg_catalog.set_config('response.status', '401', true);
        return pg_catalog.jsonb_build_object('payment_id', null, 'status', 'rejected', 'duplicate', false);
    end if;
    v_result := private.process_paymob_callback(_handle_paymob_callback.payload, null);
    if v_result ? 'refused' then
        perform pg_catalog.set_config('response.status', '409', true);
    end if;
    return v_result;
end
$$;

comment on function private._handle_paymob_callback(jsonb, text) is
'Definer body of handle_paymob_callback: service_role only; verify the HMAC, alert on forgery, else process.';
revoke all on function private._handle_paymob_callback(jsonb, text) from public;
grant execute on function private._handle_paymob_callback(jsonb, text) to service_role;

create or replace function public.handle_paymob_callback(payload jsonb, hmac text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    return private._handle_paymob_callback(handle_paymob_callback.payload, handle_paymob_callback.hmac);
exception when lock_not_available then
    -- A stuck row lock is a 503 lock_timeout (see private._lock_timeout), not a 500.
    return private._lock_timeout(
        'handle_paymob_callback',
        pg_catalog.format('order %s', handle_paymob_callback.payload #>> '{obj,order,merchant_order_id}')
    );
end
$$;

comment on function public.handle_paymob_callback(jsonb, text) is
'service_role: verify and apply a Paymob transaction callback (a forged HMAC is refused with an alert).';
revoke all on function public.handle_paymob_callback(jsonb, text) from public;
grant execute on function public.handle_paymob_callback(jsonb, text) to service_role;
