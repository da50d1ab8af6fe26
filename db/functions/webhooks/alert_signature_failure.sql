-- private.alert_signature_failure: one signature_failure alert per provider per
-- hour window, however many forged or broken deliveries arrive in it.
--
-- The dedupe key names the provider and the UTC hour, so raise_alert opens at
-- most one alert for that window; the first rejected delivery is in its details.
create or replace function private.alert_signature_failure(provider text, webhook_id bigint, reason text)
returns bigint
language sql
volatile
set search_path = ''
as $$
    select private.raise_alert(
        'signature_failure',
        'signature_failure:' || alert_signature_failure.provider || ':'
        || pg_catalog.to_char(pg_catalog.now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24'),
        pg_catalog.format(
            '%s webhook signature verification failed (%s)', alert_signature_failure.provider,
            alert_signature_failure.reason
        ),
        null,
        'warning',
        pg_catalog.jsonb_build_object(
            'provider', alert_signature_failure.provider,
            'first_webhook_id', alert_signature_failure.webhook_id,
            'reason', alert_signature_failure.reason,
            'window_start', pg_catalog.date_trunc('hour', pg_catalog.now() at time zone 'UTC')
        )
    )
$$;

comment on function private.alert_signature_failure(text, bigint, text) is
'Raise the signature_failure alert for this provider and UTC hour, once.';
revoke all on function private.alert_signature_failure(text, bigint, text) from public;
