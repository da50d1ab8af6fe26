-- check_rate_limit: count one request of a workspace against its plan's limit for a
-- bucket (service_role).
--
--   select public.check_rate_limit(workspace_id := ..., bucket := 'api');
--   -> {allowed, limit, remaining, retry_after, window_seconds, plan_key}
--
-- Fixed windows of plan_rate_limits.window_seconds; limits come from the
-- workspace's plan (free and paid differ). The counter is one row per workspace
-- and bucket in the UNLOGGED private.rate_limit_counters (why: see its migration);
-- a refused request is not counted against the window (hits stop at limit + 1),
-- but in private.rate_limit_refusals (per minute, for monitoring). Sets PostgREST's
-- response.headers: X-RateLimit-Limit / -Remaining / -Reset, and Retry-After when
-- refused. public.enforce_rate_limit is the variant that answers 429.
--
-- Fail-open: if the counter storage itself fails (any error inside the counting
-- block), the request is allowed, the answer carries fail_open = true and the error,
-- and a critical rate_limiter_failed alert records why (one open alert; its details
-- hold the error). Configuration errors are not swallowed: 22023 for a missing
-- workspace_id or unknown bucket, PT404 workspace_not_found.
create or replace function private._check_rate_limit(workspace_id uuid, bucket text default 'api')
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_plan_key text;
    v_limit integer;
    v_window integer;
    v_now timestamptz := pg_catalog.now();
    v_window_start timestamptz;
    v_hits integer;
    v_retry_after integer;
    v_sqlstate text;
    v_error text;
begin
    if _check_rate_limit.workspace_id is null or _check_rate_limit.bucket is null then
        raise exception using
            errcode = '22023', message = 'invalid_argument', detail = 'workspace_id and bucket are required';
    end if;
    select w.plan_key, prl.max_requests, prl.window_seconds
    into v_plan_key, v_limit, v_window
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
    v_window_start := pg_catalog.to_timestamp(
        pg_catalog.floor(extract(epoch from v_now) / v_window) * v_window
    );

    begin
        -- A session that started earlier may reach the row after a newer window began:
        -- it then counts into the newer window instead of resetting it.
        insert into private.rate_limit_counters as c (workspace_id, bucket, window_start, hits)
        values (_check_rate_limit.workspace_id, _check_rate_limit.bucket, v_window_start, 1)
        on conflict (workspace_id, bucket) do update
            set
                window_start = greatest(c.window_start, excluded.window_start),
                hits = case
                    when c.window_start >= excluded.window_start then least(c.hits + 1, v_limit + 1)
                    else 1
                end
        returning c.window_start, c.hits into v_window_start, v_hits;
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

    if v_hits > v_limit then
        -- Counted for the 429 signal of public.monitoring_signals; a failure to
        -- count never changes the answer.
        begin
            insert into private.rate_limit_refusals as r (workspace_id, bucket, minute, refusals)
            values (
                _check_rate_limit.workspace_id, _check_rate_limit.bucket, pg_catalog.date_trunc('minute', v_now), 1
            )
            on conflict (workspace_id, bucket, minute) do update set refusals = r.refusals + 1;
        exception when others then
            raise warning 'rate limiter could not count a refusal: %', sqlerrm;
        end;
    end if;
    v_retry_after := greatest(
        1, pg_catalog.ceil(extract(epoch from v_window_start + pg_catalog.make_interval(secs => v_window) - v_now))::integer
    );
    perform pg_catalog.set_config(
        'response.headers',
        (pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('X-RateLimit-Limit', v_limit::text),
            pg_catalog.jsonb_build_object('X-RateLimit-Remaining', greatest(v_limit - v_hits, 0)::text),
            pg_catalog.jsonb_build_object('X-RateLimit-Reset', v_retry_after::text)
        ) || case
            when v_hits > v_limit then pg_catalog.jsonb_build_array(
                pg_catalog.jsonb_build_object('Retry-After', v_retry_after::text)
            )
            else '[]'::jsonb
        end)::text,
        true
    );
    return pg_catalog.jsonb_build_object(
        'allowed', v_hits <= v_limit,
        'limit', v_limit,
        'remaining', greatest(v_limit - v_hits, 0),
        'retry_after', case when v_hits <= v_limit then 0 else v_retry_after end,
        'window_seconds', v_window,
        'plan_key', v_plan_key,
        'fail_open', false
    );
end
$$;

comment on function private._check_rate_limit(uuid, text) is
'Implementation of public.check_rate_limit (definer: writes the private counters; fails open).';
revoke all on function private._check_rate_limit(uuid, text) from public;
grant execute on function private._check_rate_limit(uuid, text) to service_role;

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
                'X-RateLimit-Remaining', '0'
            )
        )::text;
end
$$;

comment on function public.enforce_rate_limit(uuid, text) is
'check_rate_limit that answers HTTP 429 (PT429 rate_limited) with a Retry-After header when refused.';
revoke all on function public.enforce_rate_limit(uuid, text) from public;
grant execute on function public.enforce_rate_limit(uuid, text) to service_role;
