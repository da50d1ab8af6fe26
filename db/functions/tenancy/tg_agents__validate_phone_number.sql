-- agents.phone_number must be E.164. The check constraint enforces it whatever
-- happens; this trigger runs first so a caller gets the contract's bad-argument
-- error (22023 invalid_phone_number, HTTP 400) with the offending value, not a
-- bare constraint violation.
create or replace function private.tg_agents__validate_phone_number()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.phone_number is not null and new.phone_number !~ '^\+[1-9][0-9]{6,14}$' then
        raise exception using
            errcode = '22023',
            message = 'invalid_phone_number',
            detail = pg_catalog.format('phone_number %L is not E.164', new.phone_number),
            hint = 'Use E.164: a + then the country code and number, 7 to 15 digits, no spaces (+201001234567).';
    end if;
    return new;
end
$$;

comment on function private.tg_agents__validate_phone_number() is
'BEFORE INSERT/UPDATE OF phone_number on agents: 22023 invalid_phone_number unless E.164.';
revoke all on function private.tg_agents__validate_phone_number() from public;

create or replace trigger tg_agents__validate_phone_number
before insert or update of phone_number on public.agents
for each row execute function private.tg_agents__validate_phone_number();
