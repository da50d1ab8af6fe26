-- Schemas and extensions every later migration relies on.
-- public: exposed through PostgREST (tables with RLS, RPC functions).
-- private: helpers and SECURITY DEFINER code; PostgREST never exposes it.

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

create schema if not exists private;
comment on schema private is
'Helpers and SECURITY DEFINER functions; not exposed through the API.';
revoke all on schema private from public;
-- Policies call private helpers as the requesting role, so the API roles need
-- USAGE on the schema; EXECUTE is still granted function by function.
grant usage on schema private to authenticated, service_role;

-- No function is callable by everyone by default: each file grants exactly
-- the roles that may call it.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from anon, authenticated, service_role;
alter default privileges in schema private revoke execute on functions from anon, authenticated, service_role;

-- pg_cron can only be created in the database named by cron.database_name
-- (Supabase: postgres). Elsewhere the jobs are not scheduled, and say so.
do $$
begin
    if exists (select from pg_catalog.pg_available_extensions where name = 'pg_cron')
        and pg_catalog.current_database() = pg_catalog.current_setting('cron.database_name', true) then
        -- Its objects live in schema cron; registering it in pg_catalog (as
        -- Supabase does) keeps the extension itself out of public.
        create extension if not exists pg_cron with schema pg_catalog;
    else
        raise notice 'pg_cron is not available in database %: scheduled jobs are not installed',
            pg_catalog.current_database();
    end if;
end
$$;
