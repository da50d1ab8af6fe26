-- private._usage_batch_problem: the first malformed event of a record_usage_batch,
-- as (i: its zero-based index, word: the error's message, detail), or no row when
-- every event is well-formed (see public.record_usage_batch for the rules).
-- One CASE per event names its first problem: CASE evaluates its branches in
-- order and stops at the first that holds, so each cast only ever sees a value
-- already known to be of its type.
create or replace function private._usage_batch_problem(events jsonb, period_start date, now timestamptz)
returns table (i bigint, word text, detail text)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_from timestamptz := _usage_batch_problem.period_start::timestamp at time zone 'utc';
    v_fields constant text[] := '{workspace_id,metric,quantity,idempotency_key,source,occurred_at}';
    v_metric_keys text[] := array(select m.key from public.usage_metrics as m);
begin
    return query
    select b.i, b.word, case b.word
            when 'malformed_event' then 'is a JSON ' || pg_catalog.jsonb_typeof(b.value) || ', not an object'
            when 'unknown_field' then 'has fields other than ' || pg_catalog.array_to_string(v_fields, ', ')
            when 'invalid_workspace_id' then
                'workspace_id ' || coalesce(b.value ->> 'workspace_id', 'missing') || ' is not a uuid'
            when 'unknown_metric' then 'metric ' || coalesce(b.value ->> 'metric', 'missing') || ' is not in usage_metrics'
            when 'invalid_quantity' then
                'quantity ' || coalesce(b.value ->> 'quantity', 'missing') || ' is not a number greater than 0 and at most 1e12'
            when 'invalid_idempotency_key' then 'idempotency_key is not a string of 1 to 200 characters'
            when 'invalid_source' then 'source is not a string of at most 200 characters'
            else 'occurred_at ' || coalesce(b.value ->> 'occurred_at', '')
                || ' is not an ISO 8601 time with a zone, in the current period (from ' || _usage_batch_problem.period_start
                || ' UTC) and at most 5 minutes ahead'
        end as detail
    from (
        select a.n - 1 as i, a.value, case
            when pg_catalog.jsonb_typeof(a.value) <> 'object' then 'malformed_event'
            when (a.value - v_fields) <> '{}' then 'unknown_field'
            when coalesce(pg_catalog.jsonb_typeof(a.value -> 'workspace_id'), '') <> 'string' then 'invalid_workspace_id'
            when (a.value ->> 'workspace_id')
                !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                then 'invalid_workspace_id'
            when coalesce(pg_catalog.jsonb_typeof(a.value -> 'metric'), '') <> 'string' then 'unknown_metric'
            when not (a.value ->> 'metric' = any(v_metric_keys)) then 'unknown_metric'
            when coalesce(pg_catalog.jsonb_typeof(a.value -> 'quantity'), '') <> 'number' then 'invalid_quantity'
            when (a.value ->> 'quantity')::numeric <= 0 or (a.value ->> 'quantity')::numeric > 1e12
                then 'invalid_quantity'
            when coalesce(pg_catalog.jsonb_typeof(a.value -> 'idempotency_key'), 'null') not in ('null', 'string')
                then 'invalid_idempotency_key'
            when pg_catalog.length(a.value ->> 'idempotency_key') not between 1 and 200 then 'invalid_idempotency_key'
            when coalesce(pg_catalog.jsonb_typeof(a.value -> 'source'), 'null') not in ('null', 'string')
                then 'invalid_source'
            when pg_catalog.length(a.value ->> 'source') > 200 then 'invalid_source'
            when coalesce(pg_catalog.jsonb_typeof(a.value -> 'occurred_at'), 'null') = 'null' then null
            when pg_catalog.jsonb_typeof(a.value -> 'occurred_at') <> 'string' then 'invalid_occurred_at'
            when (a.value ->> 'occurred_at')
                !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$'
                then 'invalid_occurred_at'
            when coalesce(
                    private._try_timestamptz(a.value ->> 'occurred_at')
                    not between v_from and _usage_batch_problem.now + interval '5 minutes',
                    true
                ) then 'invalid_occurred_at'
        end as word
        from pg_catalog.jsonb_array_elements(_usage_batch_problem.events) with ordinality as a (value, n)
    ) as b
    where b.word is not null
    order by b.i
    limit 1;
end
$$;

comment on function private._usage_batch_problem(jsonb, date, timestamptz) is
'The first malformed event of a usage batch (zero-based index, error word, detail), or no row.';
revoke all on function private._usage_batch_problem(jsonb, date, timestamptz) from public;

-- private._try_timestamptz: the text as a timestamptz, or null when it is not one.
create or replace function private._try_timestamptz(value text)
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
begin
    return _try_timestamptz.value::timestamptz;
exception when others then
    return null;
end
$$;

comment on function private._try_timestamptz(text) is
'The text as a timestamptz, or null when it cannot be read as one.';
revoke all on function private._try_timestamptz(text) from public;
