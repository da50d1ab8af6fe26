-- private.monitoring_signal_series: every (signal, scope) public.monitoring_signals
-- answers, in its order.
--
-- Every signal and provider has a row, zeros included, so a scraper sees every
-- series. The webhook signals have one scope per provider (Meta split by object:
-- whatsapp, messenger, meta); the others one scope, '' or paymob.
-- Called by private._monitoring_signals.
create or replace function private.monitoring_signal_series()
returns table (signal text, scope text, ord integer)
language plpgsql
immutable
set search_path = ''
as $$
begin
    return query
    with providers (scope, provider, ord) as (
        values
        ('twilio', 'twilio', 1), ('whatsapp', 'meta', 2), ('messenger', 'meta', 3), ('meta', 'meta', 4),
        ('paymob', 'paymob', 5), ('standard', 'standard', 6)
    )

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
    ) as s (signal, scope, ord);
end
$$;

comment on function private.monitoring_signal_series() is
'Every (signal, scope) of public.monitoring_signals, in order: the rows it answers, zeros included.';
revoke all on function private.monitoring_signal_series() from public;
