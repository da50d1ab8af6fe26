-- The two side paths of private._check_rate_limit, each a step of its own: counting
-- a refusal (and raising the spike alert), and failing open when the limiter's
-- state fails. The allowed request's path stays in _check_rate_limit. Definer code
-- only.

-- private.count_rate_limit_refusal: count one refused request in
-- private.rate_limit_refusals (per workspace, bucket and UTC minute); the refusal
-- that reaches the bucket's spike threshold within its minute (spike_refusals, by
-- default the requests the bucket allows per minute) raises the rate_limit_spike
-- alert. A failure here is a warning, never an error: the request is refused
-- either way.
create or replace function private.count_rate_limit_refusal(
    workspace_id uuid,
    bucket text,
    at timestamptz,
    plan_key text,
    max_requests integer,
    window_seconds integer,
    spike_refusals integer
)
returns void
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_minute timestamptz;
    v_refusals integer;
    v_sqlstate text;
    v_error text;
begin
    v_minute := pg_catalog.date_trunc('minute', count_rate_limit_refusal.at, 'UTC');
    insert into private.rate_limit_refusals as r (workspace_id, bucket, slot, minute, refusals)
    values (
        count_rate_limit_refusal.workspace_id,
        count_rate_limit_refusal.bucket,
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
    if v_refusals = coalesce(
        count_rate_limit_refusal.spike_refusals,
        least(
            pg_catalog.ceil(count_rate_limit_refusal.max_requests * 60.0 / count_rate_limit_refusal.window_seconds),
            2147483647
        )::integer
    ) then
        perform private.raise_alert(
            'rate_limit_spike',
            pg_catalog.format(
                'rate_limit_spike:%s:%s', count_rate_limit_refusal.workspace_id, count_rate_limit_refusal.bucket
            ),
            pg_catalog.format(
                'Workspace requests in bucket %s are being refused in bulk (%s 429s within a minute).',
                count_rate_limit_refusal.bucket, v_refusals
            ),
            count_rate_limit_refusal.workspace_id,
            'warning',
            pg_catalog.jsonb_build_object(
                'bucket', count_rate_limit_refusal.bucket,
                'plan_key', count_rate_limit_refusal.plan_key,
                'limit', count_rate_limit_refusal.max_requests,
                'window_seconds', count_rate_limit_refusal.window_seconds,
                'refusals_in_minute', v_refusals,
                'minute', v_minute
            )
        );
    end if;
exception when others then
    get stacked diagnostics v_sqlstate = returned_sqlstate, v_error = message_text;
    raise warning 'rate limiter could not count a refusal for workspace % bucket %: % (%)',
        count_rate_limit_refusal.workspace_id, count_rate_limit_refusal.bucket, v_error, v_sqlstate;
end
$$;

comment on function private.count_rate_limit_refusal(uuid, text, timestamptz, text, integer, integer, integer) is
'Count a refused request per workspace, bucket and minute; the refusal reaching the spike threshold raises its alert.';
revoke all on function private.count_rate_limit_refusal(uuid, text, timestamptz, text, integer, integer, integer)
from public;

-- private.rate_limiter_fail_open: the answer when the rate limiter's state failed
-- (sqlstate, error): the request is allowed with fail_open = true and the error,
-- and a critical rate_limiter_failed alert records why. Recording the failure may
-- fail too: a warning then, so fail-open never turns into fail-closed.
create or replace function private.rate_limiter_fail_open(
    workspace_id uuid,
    bucket text,
    at timestamptz,
    max_requests integer,
    window_seconds integer,
    plan_key text,
    sqlstate text,
    error text
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
    raise warning 'rate limiter failed open for workspace % bucket %: % (%)',
        rate_limiter_fail_open.workspace_id, rate_limiter_fail_open.bucket,
        rate_limiter_fail_open.error, rate_limiter_fail_open.sqlstate;
    begin
        perform private.raise_alert(
            'rate_limiter_failed',
            'rate_limiter_failed',
            'The rate limiter''s storage failed; requests are allowed without limits (fail-open).',
            null,
            'critical',
            pg_catalog.jsonb_build_object(
                'sqlstate', rate_limiter_fail_open.sqlstate,
                'error', rate_limiter_fail_open.error,
                'workspace_id', rate_limiter_fail_open.workspace_id,
                'bucket', rate_limiter_fail_open.bucket,
                'at', rate_limiter_fail_open.at
            )
        );
    exception when others then
        raise warning 'rate limiter could not record its failure either';
    end;
    return pg_catalog.jsonb_build_object(
        'allowed', true,
        'limit', rate_limiter_fail_open.max_requests,
        'remaining', null,
        'retry_after', 0,
        'window_seconds', rate_limiter_fail_open.window_seconds,
        'plan_key', rate_limiter_fail_open.plan_key,
        'fail_open', true,
        'error', rate_limiter_fail_open.error
    );
end
$$;

comment on function private.rate_limiter_fail_open(uuid, text, timestamptz, integer, integer, text, text, text) is
'The fail-open answer of check_rate_limit when its state failed; records a critical rate_limiter_failed alert.';
revoke all on function private.rate_limiter_fail_open(uuid, text, timestamptz, integer, integer, text, text, text)
from public;
