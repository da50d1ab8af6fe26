-- private.vault_secret: the decrypted value of a named Vault secret.
--
-- Works on real Supabase Vault and on the compatibility layer alike (both
-- expose vault.decrypted_secrets). Signature checks read their signing keys
-- here, so no key is ever stored in a plain column, a config JSON or a log.
-- Raises PT404 secret_not_found when the secret was never created.
create or replace function private.vault_secret(secret_name text)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_secret text;
begin
    select ds.decrypted_secret
    into v_secret
    from vault.decrypted_secrets as ds
    where ds.name = vault_secret.secret_name
    order by ds.created_at desc
    limit 1;
    if v_secret is null then
        raise exception using
            errcode = 'PT404',
            message = 'secret_not_found',
            detail = pg_catalog.format('no Vault secret named %L', vault_secret.secret_name),
            hint = 'Create it with vault.create_secret(value, name).';
    end if;
    return v_secret;
end
$$;

comment on function private.vault_secret(text) is
'Decrypted value of the named Vault secret (PT404 secret_not_found when missing). Definer code only.';
revoke all on function private.vault_secret(text) from public;
