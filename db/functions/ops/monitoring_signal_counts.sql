-- private.monitoring_signal_counts: the counts behind public.monitoring_signals,
-- for the signals and scopes that had any, as of a moment.
--
-- The deliveries that need attention are those received in the last day, or
-- waiting now (failed, dead_letter), read from webhook_queue_attention_idx alone;
-- the other signals count their own tables' last day. Webhook scopes are
-- providers, with Meta split by object (whatsapp, messenger, meta). The backlogs
-- are levels, not counts of a window: each column holds the backlog's size now.
-- Called by private._monitoring_signals, which adds the zero rows.
create or replace function private.monitoring_signal_counts(as_of timestamptz)
returns table (signal text, scope text, last_5m bigint, last_1h bigint, last_24h bigint)
language plpgsql
stable
set search_path = ''
as $$
declare
    v_now timestamptz := monitoring_signal_counts.as_of;
begin
    return query
    -- The deliveries that need attention: received in the last day, or waiting now.
    with attention as (
        select
            case
                when q.provider <> 'meta' then q.provider::text
                when q.event_type = 'meta.whatsapp' then 'whatsapp'
                when q.event_type = 'meta.messenger' then 'messenger'
                else 'meta'
            end as scope,
            q.status::text as status,
            q.signature_valid,
            q.received_at
        from (
            -- Two scans of the index, not one OR: each reads the index alone (no heap pages).
            select x.provider, x.event_type, x.status, x.signature_valid, x.received_at
            from public.webhook_queue as x
            where x.status in ('failed', 'dead_letter')
            union all
            select x.provider, x.event_type, x.status, x.signature_valid, x.received_at
            from public.webhook_queue as x
            where x.status = 'rejected' and x.received_at > v_now - interval '24 hours'
        ) as q
    ),

    windowed (signal, scope, at) as (
        select 'webhook_failures', a.scope, a.received_at
        from attention as a
        where a.status in ('failed', 'dead_letter') or (a.status = 'rejected' and a.signature_valid)
        union all
        select 'signature_failures', a.scope, a.received_at
        from attention as a
        where a.status = 'rejected' and a.signature_valid = false
        union all
        select 'api_auth_failures', '', l.occurred_at
        from public.external_api_audit_logs as l
        where l.occurred_at > v_now - interval '24 hours'
        union all
        select 'credits_exhausted', '', al.created_at
        from public.alerts as al
        where al.type = 'credits_exhausted' and al.created_at > v_now - interval '24 hours'
        union all
        select 'payment_webhook_failures', 'paymob', a.received_at
        from attention as a
        where a.scope = 'paymob'
        union all
        select 'payment_webhook_failures', 'paymob', al.created_at
        from public.alerts as al
        where al.type = 'payment_failure' and al.severity <> 'info' and al.created_at > v_now - interval '24 hours'
        union all
        select 'job_failures', '', j.started_at
        from public.job_runs as j
        where j.status in ('failed', 'partial') and j.started_at > v_now - interval '24 hours'
    )

    select
        w.signal,
        w.scope,
        pg_catalog.count(*) filter (where w.at > v_now - interval '5 minutes') as last_5m,
        pg_catalog.count(*) filter (where w.at > v_now - interval '1 hour') as last_1h,
        pg_catalog.count(*) filter (where w.at > v_now - interval '24 hours') as last_24h
    from windowed as w
    group by w.signal, w.scope
    union all
    select
        'rate_limited',
        '',
        coalesce(sum(r.refusals) filter (where r.minute > v_now - interval '5 minutes'), 0)::bigint,
        coalesce(sum(r.refusals) filter (where r.minute > v_now - interval '1 hour'), 0)::bigint,
        coalesce(sum(r.refusals), 0)::bigint
    from private.rate_limit_refusals as r
    where r.minute > v_now - interval '24 hours'
    union all
    select
        'webhook_' || a.status || '_backlog',
        a.scope,
        pg_catalog.count(*),
        pg_catalog.count(*),
        pg_catalog.count(*)
    from (
        select case a.status when 'failed' then 'retry' else 'dead_letter' end as status, a.scope
        from attention as a
        where a.status in ('failed', 'dead_letter')
    ) as a
    group by a.status, a.scope;
end
$$;

comment on function private.monitoring_signal_counts(timestamptz) is
'The non-zero counts of public.monitoring_signals as of a moment: (signal, scope, last_5m, last_1h, last_24h).';
revoke all on function private.monitoring_signal_counts(timestamptz) from public;
