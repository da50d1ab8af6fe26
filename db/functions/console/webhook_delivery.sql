-- public.webhook_delivery: one stored webhook delivery for staff screens, PII masked.
--
--   select public.webhook_delivery(webhook_id => 42);
--   GET /rest/v1/rpc/webhook_delivery?webhook_id=42
--   -> {webhook_id, provider, event_type, status, idempotency_key, received_at, signature_valid,
--       duplicate_of, attempts, max_attempts, next_attempt_at, last_error, skip_reason,
--       processed_at, url, headers, payload, raw_body_bytes, history}
--
-- headers and payload are masked by private._mask_webhook_json (names, numbers,
-- addresses and message text keep their first letters; signatures are hidden);
-- the raw body is never returned, only its size. history is every audit_logs
-- row about the delivery (replays: who, why, outcome), oldest first. Who:
-- platform admins (raw deliveries are theirs alone, as RLS on webhook_queue
-- says). Errors: 42501 not_allowed; PT404 webhook_not_found.
create or replace function public.webhook_delivery(webhook_id bigint)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
    v_row public.webhook_queue;
begin
    if not (select private.is_admin()) then
        raise exception using
            errcode = '42501', message = 'not_allowed',
            detail = pg_catalog.format('caller %s is not a platform admin',
                coalesce((select auth.uid())::text, 'anonymous')),
            hint = 'Raw webhook deliveries are for platform admins.';
    end if;
    select q.* into v_row from public.webhook_queue as q where q.id = webhook_delivery.webhook_id;
    if not found then
        raise exception using
            errcode = 'PT404', message = 'webhook_not_found',
            detail = pg_catalog.format('webhook %s', webhook_delivery.webhook_id);
    end if;
    return pg_catalog.jsonb_build_object(
        'webhook_id', v_row.id,
        'provider', v_row.provider,
        'event_type', v_row.event_type,
        'status', v_row.status,
        'idempotency_key', v_row.idempotency_key,
        'received_at', v_row.received_at,
        'signature_valid', v_row.signature_valid,
        'duplicate_of', v_row.duplicate_of,
        'attempts', v_row.attempts,
        'max_attempts', v_row.max_attempts,
        'next_attempt_at', v_row.next_attempt_at,
        'last_error', v_row.last_error,
        'skip_reason', v_row.skip_reason,
        'processed_at', v_row.processed_at,
        'url', v_row.url,
        'headers', private._mask_webhook_json(v_row.headers),
        'payload', private._mask_webhook_json(v_row.payload),
        'raw_body_bytes', pg_catalog.octet_length(v_row.raw_body),
        'history', (
            select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                'audit_id', a.id, 'occurred_at', a.occurred_at, 'actor_id', a.actor_id,
                'actor_role', a.actor_role, 'action', a.action, 'reason', a.reason,
                'before', a.before, 'after', a.after
            ) order by a.id), '[]'::jsonb)
            from public.audit_logs as a
            where a.target_table = 'webhook_queue' and a.target_id = v_row.id::text
        )
    );
end
$$;

comment on function public.webhook_delivery(bigint) is
'One webhook delivery with its payload and headers PII-masked and its audit history (platform admins).';
revoke all on function public.webhook_delivery(bigint) from public;
grant execute on function public.webhook_delivery(bigint) to authenticated;
