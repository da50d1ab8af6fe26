-- The API roles wait at most 2 s for a row lock, set where Supabase sets their
-- statement_timeout: on the role, which PostgREST applies to every request it
-- impersonates the role for (its "impersonated role settings", read from the
-- role's own settings, not IN DATABASE ones). A transaction stuck holding a
-- wallet, a usage period row or a payment row then makes an API call fail in 2 s
-- with 55P03, which the API functions answer as HTTP 503 lock_timeout with a
-- Retry-After (private._lock_timeout), instead of holding the request until its
-- statement_timeout (anon 3 s, authenticated 8 s; service_role: the
-- authenticator's 8 s) or forever.
--
-- On Supabase these are Supabase's roles; a role setting is the documented way to
-- tune their timeouts, and this one adds to Supabase's statement_timeout without
-- replacing it. Jobs (pg_cron runs them as their owner) are not API roles and keep
-- the server's default.
alter role anon set lock_timeout = '2s';
alter role authenticated set lock_timeout = '2s';
alter role service_role set lock_timeout = '2s';

-- PostgREST reads role settings when it loads its configuration.
notify pgrst, 'reload config';
