-- private.constant_time_equals: compare two secrets-derived byte strings without
-- leaking, through timing, how many leading bytes matched.
--
-- Both sides are HMAC-ed with a fresh random key and the digests compared: an
-- attacker cannot steer the digests' common prefix, so the early exit of bytea
-- equality tells nothing about the inputs. Null on either side is never equal.
create or replace function private.constant_time_equals(a bytea, b bytea)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_key bytea := extensions.gen_random_bytes(32);
begin
    if a is null or b is null then
        return false;
    end if;
    return extensions.hmac(a, v_key, 'sha256') = extensions.hmac(b, v_key, 'sha256');
end
$$;

comment on function private.constant_time_equals(bytea, bytea) is
'Timing-safe equality of two byte strings (double HMAC with a random key); false when either is null.';
revoke all on function private.constant_time_equals(bytea, bytea) from public;
