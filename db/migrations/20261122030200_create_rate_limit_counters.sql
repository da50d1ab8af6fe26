-- Storage of check_rate_limit: one counter row per workspace and bucket holding
-- the current fixed window.
--
-- UNLOGGED because a counter is worth less than the WAL it would cost: every API
-- request writes it, and losing the counts after a crash only re-opens one window
-- early (the limiter fails open anyway). One row per (workspace, bucket) that is
-- reset when a new window starts, so the table never grows and needs no cleanup.
-- It lives in private: nothing outside the limiter reads or writes it.

create unlogged table private.rate_limit_counters (
    workspace_id uuid not null,
    bucket text not null,
    window_start timestamptz not null,
    hits integer not null check (hits >= 0),
    primary key (workspace_id, bucket)
) with (fillfactor = 70);
comment on table private.rate_limit_counters is
'Fixed-window request counters of check_rate_limit (unlogged: fast, disposable; see the migration).';
revoke all on private.rate_limit_counters from public, anon, authenticated, service_role;
