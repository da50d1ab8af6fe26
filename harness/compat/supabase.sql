-- Supabase compatibility layer for plain PostgreSQL (never applied on Supabase).
--
-- Imitates the parts of Supabase that opsdb's migrations rely on: the API roles,
-- auth.users, the auth.uid()/role()/email()/jwt() claim readers, the default
-- grants on public, and a Vault (vault.create_secret, vault.decrypted_secrets).
-- The installer (harness/compat/__init__.py) runs it only when the database has
-- no auth schema, so a real Supabase project is left alone.

-- Roles are cluster-wide: another database of the same cluster may have made them.
do $$
begin
    if not exists (select from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    if not exists (select from pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
    end if;
end
$$;

grant anon, authenticated, service_role to authenticator;
-- PostgREST reads its in-database configuration from the authenticator's settings.
alter role authenticator set pgrst.db_schemas = 'public';
alter role authenticator set statement_timeout = '8s';
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;

-- auth -----------------------------------------------------------------------------

create schema auth;
grant usage on schema auth to anon, authenticated, service_role;

create table auth.users (
    instance_id uuid,
    id uuid primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255) unique,
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    raw_app_meta_data jsonb not null default '{}',
    raw_user_meta_data jsonb not null default '{}',
    is_super_admin boolean,
    is_anonymous boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table auth.users is 'Compatibility copy of Supabase auth.users (only the columns opsdb reads).';
grant select on auth.users to service_role;

-- The claim readers follow Supabase's definitions: the legacy per-claim setting
-- first, then the JSON claims; an empty setting reads as null, never as ''.
create function auth.uid() returns uuid
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create function auth.role() returns text
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create function auth.email() returns text
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

create function auth.jwt() returns jsonb
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
to anon, authenticated, service_role;

-- Supabase's default grants on public: every API role may use the schema and,
-- unless a migration revokes it, every table created from now on (RLS decides
-- which rows). Only default privileges: what public already holds (another
-- application's tables) gets no grant, so nothing of it becomes reachable
-- through the API roles.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;

-- vault ----------------------------------------------------------------------------
-- Secrets are encrypted with pgcrypto. The key is a file in the server's data
-- directory (written by the installer), never a row in any table. It is 256
-- random bits, so password-style key stretching (pgcrypto's default s2k-mode 3)
-- would only slow every signature check down: salted, unstretched s2k instead.

create schema vault;
revoke all on schema vault from public;
grant usage on schema vault to service_role;

create table vault.secrets (
    id uuid primary key default gen_random_uuid(),
    name text unique,
    description text not null default '',
    secret text not null,
    key_id uuid,
    nonce bytea,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table vault.secrets is 'Compatibility Vault: ciphertext only (pgp_sym_encrypt, base64).';
revoke all on vault.secrets from public;

create function vault._key() returns text
language sql stable security definer
set search_path = ''
as $$
    select btrim(pg_catalog.pg_read_file('opsdb_vault.key'), E' \n')
$$;
revoke all on function vault._key() from public;

-- vault.create_secret and vault.update_secret: vault_writers.sql (installed after
-- this file, and re-applied to a layer already installed).

-- Decryption goes through a definer function so that no caller ever sees the key.
-- plpgsql, not sql: a sql function with SET (or SECURITY DEFINER) is never inlined
-- and is parsed and planned again on every call, and this one runs on every
-- signature check (as sql functions, _decrypt and _key cost 107 us a call; as
-- one plpgsql function 16 us). The key file is still read on every call: neither
-- the key nor any decrypted secret is ever kept in session state.
create function vault._decrypt(ciphertext text) returns text
language plpgsql stable security definer
set search_path = ''
as $$
begin
    return extensions.pgp_sym_decrypt(
        pg_catalog.decode(ciphertext, 'base64'),
        pg_catalog.btrim(pg_catalog.pg_read_file('opsdb_vault.key'), E' \n')
    );
end
$$;
revoke all on function vault._decrypt(text) from public;
grant execute on function vault._decrypt(text) to service_role;

create view vault.decrypted_secrets as
select
    s.id,
    s.name,
    s.description,
    s.secret,
    vault._decrypt(s.secret) as decrypted_secret,
    s.key_id,
    s.nonce,
    s.created_at,
    s.updated_at
from vault.secrets as s;
comment on view vault.decrypted_secrets is 'Compatibility Vault: secrets decrypted for service_role and definer code.';
revoke all on vault.decrypted_secrets from public;
grant select on vault.decrypted_secrets to service_role;

comment on schema auth is 'opsdb Supabase compatibility layer (harness/compat/supabase.sql).';
comment on schema vault is 'opsdb Supabase compatibility layer (harness/compat/supabase.sql).';
