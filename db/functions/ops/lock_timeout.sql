-- private.lock_timeout: the answer of an API call that waited longer than the
-- caller's lock_timeout for a row another transaction holds (SQLSTATE 55P03).
--
--   exception when lock_not_available then
--       return private.lock_timeout('deduct_credits', format('workspace %s', workspace_id));
--
-- Raises PostgREST's SQLSTATE 'PGRST' so the response is HTTP 503 with a
-- Retry-After header and the body {code: '55P03', message: 'lock_timeout', details,
-- hint}: by default PostgREST answers class 55 with 500, which a client cannot tell
-- from a bug. 503 says "try again", and it is safe to: the call's transaction is
-- rolled back whole, so nothing it did is kept, and a retry with the same
-- idempotency key is the same request. Always raises: it is declared to return the
-- wrappers' jsonb so that a handler can `return` it and every path visibly ends.
create or replace function private.lock_timeout(operation text, subject text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    raise sqlstate 'PGRST' using
        message = pg_catalog.jsonb_build_object(
            'code', '55P03',
            'message', 'lock_timeout',
            'details', pg_catalog.format(
                '%s for %s waited longer than lock_timeout (%s) for a row another transaction holds; nothing was changed',
                lock_timeout.operation, lock_timeout.subject, pg_catalog.current_setting('lock_timeout')
            ),
            'hint', 'Retry the same request (same idempotency key) after Retry-After seconds.'
        )::text,
        detail = pg_catalog.jsonb_build_object(
            'status', 503,
            'headers', pg_catalog.jsonb_build_object('Retry-After', '1')
        )::text;
end
$$;

comment on function private.lock_timeout(text, text) is
'Raise the HTTP 503 lock_timeout answer (code 55P03, Retry-After) of an API call blocked by a stuck row lock.';
revoke all on function private.lock_timeout(text, text) from public;
grant execute on function private.lock_timeout(text, text) to authenticated, service_role;
