-- monitoring_signals: what is failing now, in one place (platform staff).
--
--   select * from public.monitoring_signals();
--   -> rows (signal, scope, last_5m, last_1h, last_24h); scope is a provider, or ''
--
-- The signals, each counted over the last 5 minutes, hour and day:
-- * webhook_failures (per provider: twilio, whatsapp, messenger, meta for other
--   Meta objects, paymob, standard): deliveries received in the window whose
--   processing failed (failed, dead_letter) or whose payload was unusable
--   (rejected with a valid signature);
-- * signature_failures (per provider): deliveries rejected for their signature;
-- * api_auth_failures: failed API key authentications (external_api_audit_logs);
-- * rate_limited: requests the rate limiter refused (HTTP 429);
-- * credits_exhausted: credits_exhausted alerts raised (a wallet ran out, or
--   refused a charge);
-- * payment_webhook_failures (paymob): Paymob deliveries that failed or were
--   rejected, and payment_failure alerts (forged, re-targeted or mismatched
--   callbacks; declined cards are not failures);
-- * job_failures: job runs that failed or partly failed (by start);
-- * webhook_retry_backlog and webhook_dead_letter_backlog (per provider): the
--   deliveries waiting now in failed (to be retried) and in dead_letter. These
--   are levels, not counts of a window: each column holds the backlog's size now.
-- Every signal and provider has a row, zeros included, so a scraper sees every
-- series. `opsdb metrics` serves the same figures to Prometheus.
-- Who may call: platform staff (admins and support) and JWT-less database
-- sessions (the operator's `opsdb metrics`); others get 42501.
create or replace function private._monitoring_signals()
returns table (signal text, scope text, last_5m bigint, last_1h bigint, last_24h bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := pg_catalog.now();
begin
    if not (
        private.is_support()
        or (
            nullif(pg_catalog.current_setting('request.jwt.claims', true), '') is null
            and pg_catalog.current_setting('role') = 'none'
            and session_user::text not in ('anon', 'authenticated', 'service_role', 'authenticator')
        )
    ) then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = 'monitoring_signals is for platform staff',
            hint = 'Ask a platform admin.';
    end if;

    return query
    with providers (scope, provider, ord) as (
        values
        ('twilio', 'twilio', 1), ('whatsapp', 'meta', 2), ('messenger', 'meta', 3), ('meta', 'meta', 4),
        ('paymob', 'paymob', 5), ('standard', 'standard', 6)
    ),

    -- The deliveries that need attention: received in the last day, or waiting now.
    attention as (
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
        from public.webhook_queue as q
        where q.status in ('failed', 'dead_letter', 'rejected')
            and (q.received_at > v_now - interval '24 hours' or q.status in ('failed', 'dead_letter'))
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
    ),

    counted as (
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
        group by a.status, a.scope
    ),

    expected (signal, scope, ord) as (
        select s.signal, p.scope, s.ord * 10 + p.ord
        from (
            values
            ('webhook_failures', 1), ('signature_failures', 2), ('webhook_retry_backlog', 8),
            ('webhook_dead_letter_backlog', 9)
        ) as s (signal, ord)
        cross join providers as p
        union all
        select s.signal, s.scope, s.ord * 10
        from (
            values
            ('api_auth_failures', '', 3), ('rate_limited', '', 4), ('credits_exhausted', '', 5),
            ('payment_webhook_failures', 'paymob', 6), ('job_failures', '', 7)
        ) as s (signal, scope, ord)
    )

    select
        e.signal,
        e.scope,
        coalesce(c.last_5m, 0)::bigint,
        coalesce(c.last_1h, 0)::bigint,
        coalesce(c.last_24h, 0)::bigint
    from expected as e
    left join counted as c on e.signal = c.signal and e.scope = c.scope
    order by e.ord;
end
$$;

comment on function private._monitoring_signals() is
'Implementation of public.monitoring_signals (definer: counts across every workspace; platform staff only).';
revoke all on function private._monitoring_signals() from public;
grant execute on function private._monitoring_signals() to authenticated;

create or replace function public.monitoring_signals()
returns table (signal text, scope text, last_5m bigint, last_1h bigint, last_24h bigint)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
    return query select s.signal, s.scope, s.last_5m, s.last_1h, s.last_24h from private._monitoring_signals() as s;
end
$$;

comment on function public.monitoring_signals() is
'The monitoring signals (what is failing now) as counts over 5 minutes, 1 hour and 24 hours '
'(backlogs: their size now), one row per signal and provider; platform staff only (42501 otherwise).';
revoke all on function public.monitoring_signals() from public;
grant execute on function public.monitoring_signals() to authenticated;
