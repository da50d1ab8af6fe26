-- private.webhooks_backend_caller: may this request act as the platform's backend?
--
-- True for a request carrying the service_role JWT, and for a direct database
-- session without any JWT and without SET ROLE to an API role (pg_cron jobs, an
-- operator in psql as the owner). Signed-in users and anon never qualify.
-- Called by the webhook definer functions before they do anything.
create or replace function private.webhooks_backend_caller()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    -- plpgsql, not sql: a sql function with a pinned search_path is never inlined and re-plans per call.
    if nullif(pg_catalog.current_setting('request.jwt.claims', true), '') is not null
        or nullif(pg_catalog.current_setting('request.jwt.claim.role', true), '') is not null then
        return coalesce(auth.role(), '') = 'service_role';
    end if;
    return pg_catalog.current_setting('role') in ('none', 'service_role');
end
$$;

comment on function private.webhooks_backend_caller() is
'True for service_role requests and for JWT-less database sessions (pg_cron, operators); false for API users.';
revoke all on function private.webhooks_backend_caller() from public;
