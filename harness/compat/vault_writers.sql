-- The compatibility Vault's writers and its re-encryption, applied at install
-- (after supabase.sql) and again whenever a database whose compatibility layer
-- is already installed is provisioned (harness.compat.upgrade), in one
-- transaction. Only the layer's own vault.secrets: on real Supabase, Vault is
-- Supabase's and nothing here runs.
--
-- The key is 256 random bits from a file, not a password: pgcrypto's default
-- s2k-mode 3 (a salted hash iterated some 65,000 times to slow password
-- guessing) adds no security and costs about a millisecond per decryption.
-- Secrets are written with s2k-mode 1 (salted, one hash), keeping pgcrypto's
-- random session key and its integrity check (MDC); decryption reads the mode
-- from each message, so secrets in either form decrypt.

create or replace function vault.create_secret(
    new_secret text,
    new_name text default null,
    new_description text default '',
    new_key_id uuid default null
) returns uuid
language plpgsql security definer
set search_path = ''
as $$
declare
    v_id uuid;
begin
    insert into vault.secrets (name, description, secret, key_id)
    values (
        new_name,
        coalesce(new_description, ''),
        pg_catalog.encode(
            extensions.pgp_sym_encrypt(new_secret, vault._key(), 's2k-mode=1, cipher-algo=aes256'), 'base64'
        ),
        new_key_id
    )
    returning id into v_id;
    return v_id;
end
$$;

create or replace function vault.update_secret(
    secret_id uuid,
    new_secret text default null,
    new_name text default null,
    new_description text default null,
    new_key_id uuid default null
) returns void
language plpgsql security definer
set search_path = ''
as $$
begin
    update vault.secrets s
    set secret = coalesce(
            pg_catalog.encode(
            extensions.pgp_sym_encrypt(new_secret, vault._key(), 's2k-mode=1, cipher-algo=aes256'), 'base64'
        ), s.secret
        ),
        name = coalesce(new_name, s.name),
        description = coalesce(new_description, s.description),
        key_id = coalesce(new_key_id, s.key_id),
        updated_at = pg_catalog.now()
    where s.id = secret_id;
end
$$;

revoke all on function vault.create_secret(text, text, text, uuid) from public;
revoke all on function vault.update_secret(uuid, text, text, text, uuid) from public;
grant execute on function vault.create_secret(text, text, text, uuid) to service_role;
grant execute on function vault.update_secret(uuid, text, text, text, uuid) to service_role;

-- Secrets written in the stretched form (by a layer installed before its writers
-- used s2k-mode 1) are re-encrypted in the salted form, value unchanged. The
-- form is read from the message's first packet (RFC 4880): a new-format header
-- (0xC3, tag 3: the symmetric-key session key packet) with a one-octet length,
-- version, cipher, then the S2K type at byte 4, 3 being iterated and salted.
update vault.secrets as s
set secret = pg_catalog.encode(
    extensions.pgp_sym_encrypt(vault._decrypt(s.secret), vault._key(), 's2k-mode=1, cipher-algo=aes256'), 'base64'
)
where pg_catalog.get_byte(pg_catalog.decode(s.secret, 'base64'), 0) = 195
    and pg_catalog.get_byte(pg_catalog.decode(s.secret, 'base64'), 4) = 3;
