-- private.paymob_hmac_message and private.verify_paymob_hmac: Paymob's
-- "transaction processed callback" HMAC.
--
-- Paymob's documentation (developers.paymob.com > Webhook callbacks and HMAC >
-- HMAC Transaction Callback, and docs.paymob.com/docs/hmac-calculation) lists
-- the fields of the callback's obj to concatenate, values only, in this order:
--   amount_cents, created_at, currency, error_occured, has_parent_transaction,
--   id, integration_id, is_3d_secure, is_auth, is_capture, is_refunded,
--   is_standalone_payment, is_voided, order.id, owner, pending,
--   source_data.pan, source_data.sub_type, source_data.type, success
-- then HMAC-SHA512 with the merchant's HMAC secret, as lowercase hex, compared
-- with the `hmac` query parameter of the callback. Its worked example
-- concatenates to
--   1000002024-06-13T11:33:44.592345EGPfalsefalse1920364654097558truefalse...
-- so booleans are lowercase true/false, numbers as sent, strings verbatim
-- (tests/payments/test_paymob_hmac.py rebuilds that exact string). A missing
-- or null field contributes the empty string.

create or replace function private.paymob_hmac_message(obj jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.concat(
        paymob_hmac_message.obj ->> 'amount_cents',
        paymob_hmac_message.obj ->> 'created_at',
        paymob_hmac_message.obj ->> 'currency',
        paymob_hmac_message.obj ->> 'error_occured',
        paymob_hmac_message.obj ->> 'has_parent_transaction',
        paymob_hmac_message.obj ->> 'id',
        paymob_hmac_message.obj ->> 'integration_id',
        paymob_hmac_message.obj ->> 'is_3d_secure',
        paymob_hmac_message.obj ->> 'is_auth',
        paymob_hmac_message.obj ->> 'is_capture',
        paymob_hmac_message.obj ->> 'is_refunded',
        paymob_hmac_message.obj ->> 'is_standalone_payment',
        paymob_hmac_message.obj ->> 'is_voided',
        paymob_hmac_message.obj #>> '{order,id}',
        paymob_hmac_message.obj ->> 'owner',
        paymob_hmac_message.obj ->> 'pending',
        paymob_hmac_message.obj #>> '{source_data,pan}',
        paymob_hmac_message.obj #>> '{source_data,sub_type}',
        paymob_hmac_message.obj #>> '{source_data,type}',
        paymob_hmac_message.obj ->> 'success'
    )
$$;

comment on function private.paymob_hmac_message(jsonb) is
'The string Paymob signs for a transaction callback: obj''s documented fields concatenated in documented order.';
revoke all on function private.paymob_hmac_message(jsonb) from public;

-- True only when hmac is the HMAC-SHA512 (hex, any case) of the callback's
-- documented fields under the Vault secret paymob_hmac_secret. The comparison
-- walks all 64 bytes whatever differs, so timing reveals nothing about the
-- expected value. A malformed payload or signature is simply false.
-- Callers: the payment and webhook definer functions, and service_role.
create or replace function private.verify_paymob_hmac(payload jsonb, hmac text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_expected bytea;
    v_given bytea;
    v_diff integer := 0;
begin
    if verify_paymob_hmac.hmac is null
        or verify_paymob_hmac.hmac !~ '^[0-9A-Fa-f]{128}$'
        or pg_catalog.jsonb_typeof(verify_paymob_hmac.payload -> 'obj') is distinct from 'object' then
        return false;
    end if;
    v_expected := extensions.hmac(
        pg_catalog.convert_to(private.paymob_hmac_message(verify_paymob_hmac.payload -> 'obj'), 'UTF8'),
        pg_catalog.convert_to(private.vault_secret('paymob_hmac_secret'), 'UTF8'),
        'sha512'
    );
    v_given := pg_catalog.decode(verify_paymob_hmac.hmac, 'hex');
    -- Constant time: accumulate every byte's difference, decide once at the end.
    for i in 0..63 loop
        v_diff := v_diff | (pg_catalog.get_byte(v_expected, i) # pg_catalog.get_byte(v_given, i));
    end loop;
    return v_diff = 0;
end
$$;

comment on function private.verify_paymob_hmac(jsonb, text) is
'Paymob transaction callback HMAC-SHA512 check (documented field order, Vault secret, constant-time compare).';
revoke all on function private.verify_paymob_hmac(jsonb, text) from public;
grant execute on function private.verify_paymob_hmac(jsonb, text) to service_role;
