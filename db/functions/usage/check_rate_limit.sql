-- check_rate_limit: count one request of a workspace against its plan's limit for a
-- bucket (service_role).
--
--   select public.check_rate_limit(workspace_id := ..., bucket := 'api');
--   -> {allowed, limit, remaining, retry_after, reset_after, window_seconds, plan_key, fail_open}
--
-- GCRA (the generic cell rate algorithm) over plan_rate_limits: a bucket allows
-- max_requests at once, then one request every window_seconds / max_requests
-- seconds (the step). So in any interval of w seconds, aligned to nothing, at most
-- max_requests + w / step requests pass: never the fixed window's twice the limit
-- in an instant. The state is one timestamp per workspace and bucket, the
-- theoretical arrival time (tat), in the UNLOGGED private.rate_limit_counters: a
-- request is allowed when greatest(tat, now) + step <= now + window, and then
-- moves tat there. A refused request changes no state, so a client hammering
-- while refused is allowed again exactly when retry_after said.
--
-- The answer: remaining = requests allowed right now, retry_after = whole seconds
-- until this request would be allowed (rounded up, so retrying after it always
-- succeeds when nothing else came meanwhile; 0 when allowed), reset_after =
-- whole seconds until the whole allowance is back. Sets PostgREST's
-- response.headers: X-RateLimit-Limit / -Remaining / -Reset (= reset_after), and
-- Retry-After when refused. public.enforce_rate_limit is the variant that answers
-- 429.
--
-- Every refusal is counted in private.rate_limit_refusals (per workspace, bucket
-- and UTC minute) for the monitoring signals; the refusal that reaches the
-- bucket's spike threshold within one minute (plan_rate_limits.spike_refusals, by
-- default the requests the bucket allows per minute) raises one rate_limit_spike
-- alert, which stays the one open alert of that workspace and bucket while the
-- spike lasts and resolves itself once the bucket has had no refusal for 5 whole
-- minutes (private.resolve_cleared_alerts). A failure to count a refusal is a warning: the request is still
-- refused.
--
-- Fail-open: if the limiter's state itself fails (any error inside the counting
-- block, a lock_timeout included), the request is allowed, the answer carries
-- fail_open = true and the error, and a critical rate_limiter_failed alert records
-- why (one open alert; its details hold the error). Configuration errors are not
-- swallowed: 22023 for a missing workspace_id or unknown bucket, PT404
-- workspace_not_found.
--
-- at: the instant to decide for (default now()). The API passes none; tests pass
-- one to drive the clock exactly.

-- The signature gained `at`: the old one would stay as an overload, and the two
-- would be ambiguous. Dropped and created in this one transaction.
drop function if exists private._check_rate_limit(uuid, text);

create or replace function private._check_rate_limit(
    workspace_id uuid,
    bucket text default 'api',
    at timestamptz default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_now timestamptz := coalesce(_check_rate_limit.at, pg_catalog.now());
    v_plan_key text;
    v_limit integer;
    v_window integer;
    v_spike integer;
    v_window_span interval;
    -- The step in whole microseconds, rounded down (so max_requests always fit in
    -- one window), and at least one.
    v_step_us bigint;
    v_step interval;
    v_tat timestamptz;
    v_allowed boolean;
    v_remaining integer;
    v_retry_after integer := 0;
    v_reset_after integer;
    v_minute timestamptz;
    v_refusals integer;
    v_sqlstate text;
    v_error text;
begin
    if _check_rate_limit.workspace_id is null or _check_rate_limit.bucket is null then
        raise exception using
            errcode = '22023', message = 'invalid_argument', detail = 'workspace_id and bucket are required';
    end if;
    -- The window and the step, computed in this one statement (each PL/pgSQL
    -- assignment would be an expression evaluation of its own on the hot path).
    select
        w.plan_key,
        prl.max_requests,
        prl.window_seconds,
        prl.spike_refusals,
        prl.window_seconds * interval '1 second',
        greatest(prl.window_seconds * 1000000::bigint / prl.max_requests, 1)
    into v_plan_key, v_limit, v_window, v_spike, v_window_span, v_step_us
    from public.workspaces as w
    left join public.plan_rate_limits as prl on prl.plan_key = w.plan_key and prl.bucket = _check_rate_limit.bucket
    where w.id = _check_rate_limit.workspace_id;
    if not found then
        raise exception using
            errcode = 'PT404',
            message = 'workspace_not_found',
            detail = pg_catalog.format('workspace %s', _check_rate_limit.workspace_id);
    end if;
    if v_limit is null then
        raise exception using
            errcode = '22023',
            message = 'unknown_bucket',
            detail = pg_catalog.format('plan %s has no rate limit for bucket %L', v_plan_key, _check_rate_limit.bucket),
            hint = 'Use a bucket from public.plan_rate_limits.';
    end if;
    v_step := v_step_us * interval '1 microsecond';

    begin
        insert into private.rate_limit_counters as c (workspace_id, bucket, tat)
        values (_check_rate_limit.workspace_id, _check_rate_limit.bucket, v_now + v_step)
        on conflict (workspace_id, bucket) do update
            set tat = greatest(c.tat, v_now) + v_step
            where greatest(c.tat, v_now) + v_step <= v_now + v_window_span
        returning
            c.tat,
            pg_catalog.floor(extract(epoch from v_now + v_window_span - c.tat) * 1000000 / v_step_us)::integer
        into v_tat, v_remaining;
        v_allowed := found;
        if not v_allowed then
            -- Refused: ON CONFLICT locked the row and left it; read its tat.
            select c.tat into v_tat
            from private.rate_limit_counters as c
            where c.workspace_id = _check_rate_limit.workspace_id and c.bucket = _check_rate_limit.bucket;
        end if;
    exception when others then
        get stacked diagnostics v_sqlstate = returned_sqlstate, v_error = message_text;
        raise warning 'rate limiter failed open for workspace % bucket %: % (%)',
            _check_rate_limit.workspace_id, _check_rate_limit.bucket, v_error, v_sqlstate;
        -- Recording the failure must not turn fail-open into fail-closed.
        begin
            perform private.raise_alert(
                'rate_limiter_failed',
                'rate_limiter_failed',
                'The rate limiter''s storage failed; requests are allowed without limits (fail-open).',
                null,
                'critical',
                pg_catalog.jsonb_build_object(
                    'sqlstate', v_sqlstate,
                    'error', v_error,
                    'workspace_id', _check_rate_limit.workspace_id,
                    'bucket', _check_rate_limit.bucket,
                    'at', v_now
                )
            );
        exception when others then
            raise warning 'rate limiter could not record its failure either';
        end;
        return pg_catalog.jsonb_build_object(
            'allowed', true,
            'limit', v_limit,
            'remaining', null,
            'retry_after', 0,
            'window_seconds', v_window,
            'plan_key', v_plan_key,
            'fail_open', true,
            'error', v_error
        );
    end;

    v_reset_after := greatest(pg_catalog.ceil(extract(epoch from v_tat - v_now)), 0)::integer;
    if not v_allowed then
        v_remaining := 0;
        -- This request fits once tat + step <= then + window.
        v_retry_after := greatest(
            pg_catalog.ceil(extract(epoch from v_tat + v_step - v_window_span - v_now)), 1
        )::integer;
        begin
            v_minute := pg_catalog.date_trunc('minute', v_now, 'UTC');
            insert into private.rate_limit_refusals as r (workspace_id, bucket, slot, minute, refusals)
            values (
                _check_rate_limit.workspace_id,
                _check_rate_limit.bucket,
                (pg_catalog.floor(extract(epoch from v_minute) / 60)::bigint % 1440)::smallint,
                v_minute,
                1
            )
            on conflict (workspace_id, bucket, slot) do update
                set
                    minute = greatest(r.minute, excluded.minute),
                    refusals = case
                        when r.minute = excluded.minute then r.refusals + 1
                        when r.minute > excluded.minute then r.refusals
                        else 1
                    end
            returning r.refusals into v_refusals;
            -- Exactly one refusal per minute sees the threshold (the row lock orders them).
            if v_refusals = coalesce(v_spike, least(pg_catalog.ceil(v_limit * 60.0 / v_window), 2147483647)::integer) then
                perform private.raise_alert(
                    'rate_limit_spike',
                    pg_catalog.format('rate_limit_spike:%s:%s', _check_rate_limit.workspace_id, _check_rate_limit.bucket),
                    pg_catalog.format(
                        'Workspace requests in bucket %s are being refused in bulk (%s 429s within a minute).',
                        _check_rate_limit.bucket, v_refusals
                    ),
                    _check_rate_limit.workspace_id,
                    'warning',
                    pg_catalog.jsonb_build_object(
                        'bucket', _check_rate_limit.bucket,
                        'plan_key', v_plan_key,
                        'limit', v_limit,
                        'window_seconds', v_window,
                        'refusals_in_minute', v_refusals,
                        'minute', v_minute
                    )
                );
            end if;
        exception when others then
            get stacked diagnostics v_sqlstate = returned_sqlstate, v_error = message_text;
            raise warning 'rate limiter could not count a refusal for workspace % bucket %: % (%)',
                _check_rate_limit.workspace_id, _check_rate_limit.bucket, v_error, v_sqlstate;
        end;
    end if;

    perform pg_catalog.set_config(
        'response.headers',
        (pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('X-RateLimit-Limit', v_limit::text),
            pg_catalog.jsonb_build_object('X-RateLimit-Remaining', v_remaining::text),
            pg_catalog.jsonb_build_object('X-RateLimit-Reset', v_reset_after::text)
        ) || case
            when v_allowed then '[]'::jsonb
            else pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('Retry-After', v_retry_after::text))
        end)::text,
        true
    );
    return pg_catalog.jsonb_build_object(
        'allowed', v_allowed,
        'limit', v_limit,
        'remaining', v_remaining,
        'retry_after', v_retry_after,
        'reset_after', v_reset_after,
        'window_seconds', v_window,
        'plan_key', v_plan_key,
        'fail_open', false
    );
end
$$;

comment on function private._check_rate_limit(uuid, text, timestamptz) is
'Implementation of public.check_rate_limit: GCRA per workspace and bucket, refusals counted, fails open.';
revoke all on function private._check_rate_limit(uuid, text, timestamptz) from public;
grant execute on function private._check_rate_limit(uuid, text, timestamptz) to service_role;

-- public.check_rate_limit: the API entry point; see private._check_rate_limit.
-- Who may call: service_role. Answers 200 with allowed = false when over the limit.
-- PL/pgSQL, not SQL: a SQL function with SET search_path is never inlined and is
-- planned again on every call; PL/pgSQL keeps its plan for the session.
create or replace function public.check_rate_limit(workspace_id uuid, bucket text default 'api')
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return private._check_rate_limit(check_rate_limit.workspace_id, check_rate_limit.bucket);
end
$$;

comment on function public.check_rate_limit(uuid, text) is
'Count a request against the plan''s rate limit: {allowed, limit, remaining, retry_after}; fails open.';
revoke all on function public.check_rate_limit(uuid, text) from public;
grant execute on function public.check_rate_limit(uuid, text) to service_role;

-- public.enforce_rate_limit: like check_rate_limit, but a refused request is an
-- HTTP 429 (PT429 rate_limited) carrying a Retry-After header. PostgREST can attach
-- headers to an error only through RAISE SQLSTATE 'PGRST' with JSON in MESSAGE
-- (the error body) and DETAIL (status and headers).
-- Who may call: service_role.
create or replace function public.enforce_rate_limit(workspace_id uuid, bucket text default 'api')
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    v_result jsonb := private._check_rate_limit(enforce_rate_limit.workspace_id, enforce_rate_limit.bucket);
begin
    if (v_result ->> 'allowed')::boolean then
        return v_result;
    end if;
    raise sqlstate 'PGRST' using
        message = pg_catalog.jsonb_build_object(
            'code', 'PT429',
            'message', 'rate_limited',
            'details', pg_catalog.format(
                'workspace %s bucket %s: at most %s requests per %s seconds on plan %s',
                enforce_rate_limit.workspace_id, enforce_rate_limit.bucket, v_result ->> 'limit',
                v_result ->> 'window_seconds', v_result ->> 'plan_key'
            ),
            'hint', pg_catalog.format('Retry after %s seconds.', v_result ->> 'retry_after')
        )::text,
        detail = pg_catalog.jsonb_build_object(
            'status', 429,
            'headers', pg_catalog.jsonb_build_object(
                'Retry-After', v_result ->> 'retry_after',
                'X-RateLimit-Limit', v_result ->> 'limit',
                'X-RateLimit-Remaining', '0',
                'X-RateLimit-Reset', v_result ->> 'reset_after'
            )
        )::text;
end
$$;

comment on function public.enforce_rate_limit(uuid, text) is
'check_rate_limit that answers HTTP 429 (PT429 rate_limited) with a Retry-After header when refused.';
revoke all on function public.enforce_rate_limit(uuid, text) from public;
grant execute on function public.enforce_rate_limit(uuid, text) to service_role;
