-- public.preview_replay_webhooks: the dry run of public.replay_webhooks
-- (private._preview_replay_webhooks implements it: a definer, as replay_webhooks' is).
--
--   select public.preview_replay_webhooks(status => 'dead_letter', provider => 'twilio',
--       received_after => '2026-11-22 09:00Z', received_before => '2026-11-22 10:00Z', max_count => 500);
--   -> {would_replay, matching, capped, oldest_received_at, newest_received_at, by_provider: {provider: n}}
--
-- Counts the deliveries replay_webhooks would take with the same arguments now
-- (same validation, same selection, rows another transaction holds included),
-- changing nothing: on-call confirms a bulk replay against this count.
-- matching counts up to 10,000 rows of the whole filter, would_replay is capped
-- at max_count. Who: platform admins and service_role. Errors: 42501
-- not_allowed; 22023 invalid_status / unknown_provider / invalid_max_count /
-- invalid_time_range, as replay_webhooks.
create or replace function private._preview_replay_webhooks(
    status text,
    provider text,
    received_after timestamptz,
    received_before timestamptz,
    max_count integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_result jsonb;
begin
    if not (private._webhooks_backend_caller() or (select private.is_admin())) then
        raise exception using
            errcode = '42501', message = 'not_allowed',
            detail = 'preview_replay_webhooks is for platform admins and the service_role backend',
            hint = 'Ask a platform admin.';
    end if;
    if _preview_replay_webhooks.status is null
        or _preview_replay_webhooks.status not in ('failed', 'dead_letter', 'unknown_phone', 'processed', 'queued') then
        raise exception using
            errcode = '22023', message = 'invalid_status',
            detail = pg_catalog.format('status %L', _preview_replay_webhooks.status),
            hint = 'Replay failed, dead_letter, unknown_phone, processed or queued deliveries.';
    end if;
    if _preview_replay_webhooks.provider is not null
        and _preview_replay_webhooks.provider not in ('twilio', 'meta', 'paymob', 'standard') then
        raise exception using
            errcode = '22023', message = 'unknown_provider',
            detail = pg_catalog.format('provider %L', _preview_replay_webhooks.provider),
            hint = 'provider is one of twilio, meta, paymob, standard.';
    end if;
    if _preview_replay_webhooks.max_count is null or _preview_replay_webhooks.max_count not between 1 and 1000 then
        raise exception using
            errcode = '22023', message = 'invalid_max_count',
            detail = pg_catalog.format('max_count %s', _preview_replay_webhooks.max_count),
            hint = 'max_count is between 1 and 1000.';
    end if;
    if _preview_replay_webhooks.received_after >= _preview_replay_webhooks.received_before then
        raise exception using
            errcode = '22023', message = 'invalid_time_range',
            detail = pg_catalog.format('[%s, %s)',
                _preview_replay_webhooks.received_after, _preview_replay_webhooks.received_before);
    end if;

    -- The selection of private._replay_webhooks, oldest first; at most 10,000
    -- rows are looked at, so a preview of a huge backlog stays cheap.
    with matching as (
        select q.id, q.provider, q.received_at
        from public.webhook_queue as q
        where q.status = _preview_replay_webhooks.status
            and (_preview_replay_webhooks.provider is null or q.provider = _preview_replay_webhooks.provider)
            and q.received_at >= coalesce(_preview_replay_webhooks.received_after, '-infinity')
            and q.received_at < coalesce(_preview_replay_webhooks.received_before, 'infinity')
        order by q.received_at, q.id
        limit 10000
    ),
    taken as (
        select m.* from matching as m order by m.received_at, m.id limit _preview_replay_webhooks.max_count
    )
    select pg_catalog.jsonb_build_object(
        'would_replay', (select count(*) from taken),
        'matching', (select count(*) from matching),
        'capped', (select count(*) from matching) > _preview_replay_webhooks.max_count,
        'oldest_received_at', (select min(t.received_at) from taken as t),
        'newest_received_at', (select max(t.received_at) from taken as t),
        'by_provider', (
            select coalesce(pg_catalog.jsonb_object_agg(g.provider, g.n), '{}'::jsonb)
            from (select t.provider, count(*) as n from taken as t group by t.provider) as g
        )
    )
    into v_result;
    return v_result;
end
$$;

comment on function private._preview_replay_webhooks(text, text, timestamptz, timestamptz, integer) is
'Implementation of public.preview_replay_webhooks: count what replay_webhooks would take now.';
revoke all on function private._preview_replay_webhooks(text, text, timestamptz, timestamptz, integer) from public;
grant execute on function private._preview_replay_webhooks(text, text, timestamptz, timestamptz, integer)
to authenticated, service_role;

create or replace function public.preview_replay_webhooks(
    status text default 'dead_letter',
    provider text default null,
    received_after timestamptz default null,
    received_before timestamptz default null,
    max_count integer default 500
)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
    select private._preview_replay_webhooks(
        preview_replay_webhooks.status,
        preview_replay_webhooks.provider,
        preview_replay_webhooks.received_after,
        preview_replay_webhooks.received_before,
        preview_replay_webhooks.max_count
    )
$$;

comment on function public.preview_replay_webhooks(text, text, timestamptz, timestamptz, integer) is
'Dry run of replay_webhooks: how many deliveries the same arguments would replay now (platform admins, service_role).';
revoke all on function public.preview_replay_webhooks(text, text, timestamptz, timestamptz, integer) from public;
grant execute on function public.preview_replay_webhooks(text, text, timestamptz, timestamptz, integer)
to authenticated, service_role;
