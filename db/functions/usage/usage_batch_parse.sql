-- private.usage_batch_extract: the common case of private.usage_batch_parse, in
-- one plain pass: when every event is well-formed and no (workspace, key) comes
-- twice, ok is true and the events come back as arrays in input order.
-- Otherwise ok is false and the arrays mean nothing: private.usage_batch_parse then
-- checks event by event to name the first problem (or mark the repeats). The
-- values are read while they are checked: a value its type cannot read (a uuid
-- or a time that is not one) raises, and ok is false then too.
create or replace function private.usage_batch_extract(
    events jsonb,
    period_start date,
    now timestamptz,
    out ok boolean,
    out workspace_ids uuid[],
    out metrics text[],
    out quantities numeric[],
    out keys text[],
    out sources text[],
    out occurred timestamptz[]
)
language plpgsql
stable
set search_path = ''
as $$
declare
    v_from timestamptz := usage_batch_extract.period_start::timestamp at time zone 'utc';
    v_fields constant text[] := '{workspace_id,metric,quantity,idempotency_key,source,occurred_at}'::text[];
    v_metric_keys text[] := array(select m.key from public.usage_metrics as m);
begin
    begin
        select
            coalesce(pg_catalog.bool_and(
                pg_catalog.jsonb_typeof(a.value) = 'object'
                and (a.value - v_fields) = '{}'::jsonb
                and pg_catalog.jsonb_typeof(a.value -> 'workspace_id') = 'string'
                and (a.value ->> 'workspace_id')
                ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                and pg_catalog.jsonb_typeof(a.value -> 'metric') = 'string'
                and (a.value ->> 'metric') = any(v_metric_keys)
                and pg_catalog.jsonb_typeof(a.value -> 'quantity') = 'number'
                and (a.value ->> 'quantity')::numeric > 0
                and (a.value ->> 'quantity')::numeric <= 1e12
                and coalesce(pg_catalog.jsonb_typeof(a.value -> 'idempotency_key'), 'null') in ('null', 'string')
                and coalesce(pg_catalog.length(a.value ->> 'idempotency_key') between 1 and 200, true)
                and coalesce(pg_catalog.jsonb_typeof(a.value -> 'source'), 'null') in ('null', 'string')
                and coalesce(pg_catalog.length(a.value ->> 'source') <= 200, true)
                and coalesce(pg_catalog.jsonb_typeof(a.value -> 'occurred_at'), 'null') in ('null', 'string')
                and coalesce(
                    (a.value ->> 'occurred_at')
                    ~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$'
                    and (a.value ->> 'occurred_at')::timestamptz
                    between v_from and usage_batch_extract.now + interval '5 minutes',
                    true
                )
            ), false),
            pg_catalog.array_agg((a.value ->> 'workspace_id')::uuid order by a.n),
            pg_catalog.array_agg(a.value ->> 'metric' order by a.n),
            pg_catalog.array_agg((a.value ->> 'quantity')::numeric order by a.n),
            pg_catalog.array_agg(a.value ->> 'idempotency_key' order by a.n),
            pg_catalog.array_agg(a.value ->> 'source' order by a.n),
            pg_catalog.array_agg((a.value ->> 'occurred_at')::timestamptz order by a.n)
        into ok, workspace_ids, metrics, quantities, keys, sources, occurred
        from pg_catalog.jsonb_array_elements(usage_batch_extract.events) with ordinality as a (value, n);
    exception when data_exception then
        ok := false;
    end;
    ok := ok and not exists (
        select
        from rows from (
            pg_catalog.unnest(usage_batch_extract.workspace_ids), pg_catalog.unnest(usage_batch_extract.keys)
        ) as k (workspace_id, idempotency_key)
        where k.idempotency_key is not null
        group by k.workspace_id, k.idempotency_key
        having pg_catalog.count(*) > 1
    );
end
$$;

comment on function private.usage_batch_extract(jsonb, date, timestamptz) is
'Read a usage batch whose events are all well-formed with no key repeated, in one pass (ok false otherwise).';
revoke all on function private.usage_batch_extract(jsonb, date, timestamptz) from public;

-- private.usage_batch_parse: a record_usage_batch's events, checked and parsed in
-- one pass (see public.record_usage_batch for the rules). Every event well-formed:
-- bad_index is null and the events come back as arrays in input order, with
-- first false for a keyed event whose (workspace, key) came earlier in the batch.
-- Otherwise bad_index (zero-based), bad_word (the error's message) and bad_detail
-- describe the first malformed event, and the arrays are null.
-- One CASE per event names its first problem: CASE evaluates its branches in
-- order and stops at the first that holds, so each cast only ever sees a value
-- already known to be of its type; the values are read only from events without
-- a problem. The common case (every event well-formed, no key repeated) is
-- read in one pass by private.usage_batch_extract; this check runs otherwise.
create or replace function private.usage_batch_parse(
    events jsonb,
    period_start date,
    now timestamptz,
    out bad_index integer,
    out bad_word text,
    out bad_detail text,
    out workspace_ids uuid[],
    out metrics text[],
    out quantities numeric[],
    out keys text[],
    out sources text[],
    out occurred timestamptz[],
    out first boolean[]
)
language plpgsql
stable
set search_path = ''
as $$
declare
    v_from timestamptz := usage_batch_parse.period_start::timestamp at time zone 'utc';
    v_fields constant text[] := '{workspace_id,metric,quantity,idempotency_key,source,occurred_at}'::text[];
    v_metric_keys text[] := array(select m.key from public.usage_metrics as m);
    v_value jsonb;
    v_common record;
begin
    select * into v_common
    from private.usage_batch_extract(usage_batch_parse.events, usage_batch_parse.period_start, usage_batch_parse.now);
    if v_common.ok then
        workspace_ids := v_common.workspace_ids;
        metrics := v_common.metrics;
        quantities := v_common.quantities;
        keys := v_common.keys;
        sources := v_common.sources;
        occurred := v_common.occurred;
        first := pg_catalog.array_fill(true, array[pg_catalog.cardinality(v_common.workspace_ids)]);
        return;
    end if;

    select
        pg_catalog.min(p.n) filter (where p.word is not null) - 1,
        (pg_catalog.array_agg(p.word order by p.n) filter (where p.word is not null))[1],
        pg_catalog.array_agg(p.workspace_id order by p.n),
        pg_catalog.array_agg(p.metric order by p.n),
        pg_catalog.array_agg(p.quantity order by p.n),
        pg_catalog.array_agg(p.idempotency_key order by p.n),
        pg_catalog.array_agg(p.source order by p.n),
        pg_catalog.array_agg(p.occurred_at order by p.n),
        pg_catalog.array_agg(
            p.idempotency_key is null or p.repeat = 1 order by p.n
        )
    into bad_index, bad_word, workspace_ids, metrics, quantities, keys, sources, occurred, first
    from (
        select
            c.*,
            pg_catalog.row_number() over (partition by c.workspace_id, c.idempotency_key order by c.n) as repeat
        from (
            select
                w.n,
                w.word,
                case when w.word is null then (w.value ->> 'workspace_id')::uuid end as workspace_id,
                w.value ->> 'metric' as metric,
                case when w.word is null then (w.value ->> 'quantity')::numeric end as quantity,
                w.value ->> 'idempotency_key' as idempotency_key,
                w.value ->> 'source' as source,
                case when w.word is null then (w.value ->> 'occurred_at')::timestamptz end as occurred_at
            from (
                select a.n, a.value, case
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
                            private.try_timestamptz(a.value ->> 'occurred_at')
                            not between v_from and usage_batch_parse.now + interval '5 minutes',
                            true
                        ) then 'invalid_occurred_at'
                end as word
                from pg_catalog.jsonb_array_elements(usage_batch_parse.events) with ordinality as a (value, n)
            ) as w
        ) as c
    ) as p;

    if bad_index is not null then
        v_value := usage_batch_parse.events -> bad_index;
        bad_detail := case bad_word
            when 'malformed_event' then 'is a JSON ' || pg_catalog.jsonb_typeof(v_value) || ', not an object'
            when 'unknown_field' then 'has fields other than ' || pg_catalog.array_to_string(v_fields, ', ')
            when 'invalid_workspace_id' then
                'workspace_id ' || coalesce(v_value ->> 'workspace_id', 'missing') || ' is not a uuid'
            when 'unknown_metric' then 'metric ' || coalesce(v_value ->> 'metric', 'missing') || ' is not in usage_metrics'
            when 'invalid_quantity' then
                'quantity ' || coalesce(v_value ->> 'quantity', 'missing') || ' is not a number greater than 0 and at most 1e12'
            when 'invalid_idempotency_key' then 'idempotency_key is not a string of 1 to 200 characters'
            when 'invalid_source' then 'source is not a string of at most 200 characters'
        else 'occurred_at ' || coalesce(v_value ->> 'occurred_at', '')
                || ' is not an ISO 8601 time with a zone, in the current period (from ' || usage_batch_parse.period_start
                || ' UTC) and at most 5 minutes ahead'
        end;
        workspace_ids := null;
        metrics := null;
        quantities := null;
        keys := null;
        sources := null;
        occurred := null;
        first := null;
    end if;
end
$$;

comment on function private.usage_batch_parse(jsonb, date, timestamptz) is
'Check and parse a usage batch in one pass: its events as arrays, or its first malformed event.';
revoke all on function private.usage_batch_parse(jsonb, date, timestamptz) from public;

-- private.try_timestamptz: the text as a timestamptz, or null when it is not one.
create or replace function private.try_timestamptz(value text)
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
begin
    return try_timestamptz.value::timestamptz;
exception when others then
    return null;
end
$$;

comment on function private.try_timestamptz(text) is
'The text as a timestamptz, or null when it cannot be read as one.';
revoke all on function private.try_timestamptz(text) from public;
