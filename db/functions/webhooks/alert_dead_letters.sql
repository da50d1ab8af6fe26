-- Dead letters alert once per provider and error, not once per row: a broken
-- payload shape or an outage dead-letters many deliveries at once, and on-call
-- needs one alert that says how many and where to look.

-- private.webhook_error_key: the error of a failed delivery without the values
-- in it, so deliveries failing the same way share a key. last_error is
-- 'SQLSTATE: message'; quoted values and numbers become '?', e.g.
-- '22P02: invalid input syntax for type integer: ?'.
create or replace function private.webhook_error_key(last_error text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
    -- The SQLSTATE (the first five characters) is kept as it is.
    select pg_catalog.left(
        case
            when webhook_error_key.last_error ~ '^[0-9A-Z]{5}: ' then
                pg_catalog.left(webhook_error_key.last_error, 7)
                || pg_catalog.regexp_replace(
                    pg_catalog.substr(webhook_error_key.last_error, 8),
                    '"[^"]*"|''[^'']*''|[0-9]+(\.[0-9]+)?', '?', 'g'
                )
            else pg_catalog.regexp_replace(
                coalesce(webhook_error_key.last_error, 'unknown'), '"[^"]*"|''[^'']*''|[0-9]+(\.[0-9]+)?', '?', 'g'
            )
        end,
        200
    )
$$;

comment on function private.webhook_error_key(text) is
'A failed delivery''s error with its values replaced by ?, so deliveries failing the same way share one key.';
revoke all on function private.webhook_error_key(text) from public;

-- private.alert_dead_letters: count newly dead-lettered deliveries in the open
-- webhook_failure alert of their provider and error, raising it for the first.
--
-- The alert's details: {provider, error, count (dead letters while it is open),
-- webhook_ids (the first five), last_webhook_id, last_at}. One upsert per
-- (provider, error) in key order: concurrent callers serialise on the alert row
-- (the open-alert unique index), so many dead letters at once still make one
-- alert with the exact count, and callers touching several keys take them in the
-- same order (no deadlock). It resolves by itself once no delivery of its
-- provider and error is left in dead_letter (private.resolve_cleared_alerts).
-- Definer code only.
create or replace function private.alert_dead_letters(webhook_ids bigint[])
returns void
language sql
volatile
security definer
set search_path = ''
as $$
    insert into public.alerts as a (type, severity, dedupe_key, message, details)
    select
        'webhook_failure',
        'critical',
        'webhook_failure:' || g.provider || ':' || g.error_key,
        pg_catalog.format(
            '%s %s webhook deliveries dead-lettered: %s (ids %s)',
            g.rows, g.provider, g.error_key, pg_catalog.array_to_string(g.ids[1:5], ', ')
        ),
        pg_catalog.jsonb_build_object(
            'provider', g.provider,
            'error', g.error_key,
            'count', g.rows,
            'webhook_ids', pg_catalog.to_jsonb(g.ids[1:5]),
            'last_webhook_id', g.ids[pg_catalog.cardinality(g.ids)],
            'last_at', pg_catalog.now()
        )
    from (
        select
            q.provider::text as provider,
            private.webhook_error_key(q.last_error) as error_key,
            pg_catalog.count(*) as rows,
            pg_catalog.array_agg(q.id order by q.id) as ids
        from public.webhook_queue as q
        where q.id = any(alert_dead_letters.webhook_ids) and q.status = 'dead_letter'
        group by q.provider, private.webhook_error_key(q.last_error)
    ) as g
    order by 3
    on conflict (dedupe_key) where resolved_at is null do update
        set details = a.details || pg_catalog.jsonb_build_object(
                'count', (a.details ->> 'count')::bigint + (excluded.details ->> 'count')::bigint,
                'webhook_ids', (
                    select pg_catalog.jsonb_agg(i.value order by i.n)
                    from pg_catalog.jsonb_array_elements(
                        coalesce(a.details -> 'webhook_ids', '[]') || (excluded.details -> 'webhook_ids')
                    ) with ordinality as i (value, n)
                    where i.n <= 5
                ),
                'last_webhook_id', excluded.details -> 'last_webhook_id',
                'last_at', excluded.details -> 'last_at'
            ),
            message = pg_catalog.format(
                '%s %s webhook deliveries dead-lettered: %s (ids %s)',
                (a.details ->> 'count')::bigint + (excluded.details ->> 'count')::bigint,
                excluded.details ->> 'provider',
                excluded.details ->> 'error',
                (
                    select pg_catalog.string_agg(i.value #>> '{}', ', ' order by i.n)
                    from pg_catalog.jsonb_array_elements(
                        coalesce(a.details -> 'webhook_ids', '[]') || (excluded.details -> 'webhook_ids')
                    ) with ordinality as i (value, n)
                    where i.n <= 5
                )
            )
$$;

comment on function private.alert_dead_letters(bigint[]) is
'Count new dead letters in the one open webhook_failure alert per provider and error (raised for the first).';
revoke all on function private.alert_dead_letters(bigint[]) from public;
