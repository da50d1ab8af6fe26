-- private._replay_webhooks: the implementation of public.replay_webhooks (bulk).
--
-- Selects deliveries by status (failed, dead_letter, unknown_phone, processed
-- or queued: processed now, without waiting for the drain), optionally
-- provider and a received_at range [after, before),
-- oldest first, at most max_count, locking them FOR UPDATE SKIP LOCKED (rows the
-- sweeper or another replay holds are left to them). Each row is replayed and
-- audited on its own; one more audit row records the bulk request and its tally.
create or replace function private._replay_webhooks(
    reason text,
    provider text,
    status text,
    received_after timestamptz,
    received_before timestamptz,
    max_count integer
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_id bigint;
    v_result jsonb;
    v_ids bigint[] := '{}'::bigint[];
    v_outcomes jsonb := '{}'::jsonb;
    v_audit_id bigint;
begin
    if not (private._webhooks_backend_caller() or private.is_admin()) then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = 'replay_webhooks is for platform admins and the service_role backend',
            hint = 'Ask a platform admin.';
    end if;
    if coalesce(pg_catalog.btrim(_replay_webhooks.reason), '') = '' then
        raise exception using
            errcode = '22023', message = 'reason_required',
            hint = 'Say why the webhooks are replayed; it is recorded in audit_logs.';
    end if;
    if _replay_webhooks.status is null
        or _replay_webhooks.status not in ('failed', 'dead_letter', 'unknown_phone', 'processed', 'queued') then
        raise exception using
            errcode = '22023', message = 'invalid_status',
            detail = pg_catalog.format('status %L', _replay_webhooks.status),
            hint = 'Replay failed, dead_letter, unknown_phone, processed or queued deliveries.';
    end if;
    if _replay_webhooks.provider is not null
        and _replay_webhooks.provider not in ('twilio', 'meta', 'paymob', 'standard') then
        raise exception using
            errcode = '22023', message = 'unknown_provider',
            detail = pg_catalog.format('provider %L', _replay_webhooks.provider),
            hint = 'provider is one of twilio, meta, paymob, standard.';
    end if;
    if _replay_webhooks.max_count is null or _replay_webhooks.max_count not between 1 and 1000 then
        raise exception using
            errcode = '22023', message = 'invalid_max_count',
            detail = pg_catalog.format('max_count %s', _replay_webhooks.max_count),
            hint = 'max_count is between 1 and 1000.';
    end if;
    if _replay_webhooks.received_after >= _replay_webhooks.received_before then
        raise exception using
            errcode = '22023', message = 'invalid_time_range',
            detail = pg_catalog.format('[%s, %s)', _replay_webhooks.received_after, _replay_webhooks.received_before);
    end if;

    for v_id in
        select q.id
        from public.webhook_queue as q
        where q.status = _replay_webhooks.status
            and (_replay_webhooks.provider is null or q.provider = _replay_webhooks.provider)
            and q.received_at >= coalesce(_replay_webhooks.received_after, '-infinity')
            and q.received_at < coalesce(_replay_webhooks.received_before, 'infinity')
        order by q.received_at, q.id
        limit _replay_webhooks.max_count
        for update skip locked
    loop
        v_result := private._replay_locked_webhook(v_id, _replay_webhooks.reason);
        v_ids := v_ids || v_id;
        v_outcomes := pg_catalog.jsonb_set(
            v_outcomes, array[v_result ->> 'status'],
            pg_catalog.to_jsonb(coalesce((v_outcomes ->> (v_result ->> 'status'))::integer, 0) + 1)
        );
    end loop;

    v_audit_id := private.audit(
        'webhook.bulk_replay',
        'webhook_queue',
        null,
        null,
        pg_catalog.jsonb_build_object(
            'provider', _replay_webhooks.provider,
            'status', _replay_webhooks.status,
            'received_after', _replay_webhooks.received_after,
            'received_before', _replay_webhooks.received_before,
            'max_count', _replay_webhooks.max_count
        ),
        pg_catalog.jsonb_build_object(
            'replayed', pg_catalog.cardinality(v_ids), 'outcomes', v_outcomes, 'webhook_ids', v_ids
        ),
        _replay_webhooks.reason
    );
    return pg_catalog.jsonb_build_object(
        'replayed', pg_catalog.cardinality(v_ids),
        'succeeded', coalesce((v_outcomes ->> 'processed')::integer, 0)
        + coalesce((v_outcomes ->> 'unknown_phone')::integer, 0),
        'outcomes', v_outcomes,
        'webhook_ids', v_ids,
        'audit_id', v_audit_id
    );
end
$$;

comment on function private._replay_webhooks(text, text, text, timestamptz, timestamptz, integer) is
'Implementation of public.replay_webhooks: bulk replay by status, provider and time range, each row audited.';
revoke all on function private._replay_webhooks(text, text, text, timestamptz, timestamptz, integer) from public;
grant execute on function private._replay_webhooks(text, text, text, timestamptz, timestamptz, integer)
to authenticated, service_role;

-- public.replay_webhooks: bulk replay of stored webhook deliveries.
--
--   select public.replay_webhooks(
--       reason => 'Twilio outage 09:00-10:00, processing bug fixed',
--       status => 'dead_letter',              -- failed | dead_letter | unknown_phone | processed | queued
--       provider => 'twilio',                 -- optional
--       received_after => '2026-11-22 09:00Z', received_before => '2026-11-22 10:00Z',  -- optional
--       max_count => 500                      -- 1..1000
--   );
--   -> {replayed, succeeded, outcomes: {status: n}, webhook_ids, audit_id}
--
-- Who: platform admins and service_role. Every replayed row gets its own
-- audit_logs entry (who, why, outcome) and the request one more.
create or replace function public.replay_webhooks(
    reason text,
    status text default 'dead_letter',
    provider text default null,
    received_after timestamptz default null,
    received_before timestamptz default null,
    max_count integer default 500
)
returns jsonb
language sql
volatile
set search_path = ''
as $$
    select private._replay_webhooks(
        replay_webhooks.reason,
        replay_webhooks.provider,
        replay_webhooks.status,
        replay_webhooks.received_after,
        replay_webhooks.received_before,
        replay_webhooks.max_count
    )
$$;

comment on function public.replay_webhooks(text, text, text, timestamptz, timestamptz, integer) is
'Bulk replay of webhook deliveries by status, provider and time range (platform admins, service_role); audited.';
revoke all on function public.replay_webhooks(text, text, text, timestamptz, timestamptz, integer) from public;
grant execute on function public.replay_webhooks(text, text, text, timestamptz, timestamptz, integer)
to authenticated, service_role;
