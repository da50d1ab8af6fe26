-- private._replay_webhook: the implementation of public.replay_webhook.
--
-- Platform admins and the service_role backend only; a reason is required (it
-- goes to audit_logs). Rejected deliveries are never replayed (a forged delivery
-- must not be processed by anyone), and a duplicate is replayed through its
-- original. The row is locked FOR UPDATE, so concurrent replays of the same
-- delivery, or a replay racing the sweeper, run one after the other.
create or replace function private._replay_webhook(webhook_id bigint, reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_status text;
    v_original bigint;
begin
    if not (private._webhooks_backend_caller() or private.is_admin()) then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = 'replay_webhook is for platform admins and the service_role backend',
            hint = 'Ask a platform admin.';
    end if;
    if coalesce(pg_catalog.btrim(_replay_webhook.reason), '') = '' then
        raise exception using
            errcode = '22023',
            message = 'reason_required',
            detail = pg_catalog.format('webhook %s', _replay_webhook.webhook_id),
            hint = 'Say why the webhook is replayed; it is recorded in audit_logs.';
    end if;

    select q.status, q.duplicate_of
    into v_status, v_original
    from public.webhook_queue as q
    where q.id = _replay_webhook.webhook_id
    for update;
    if not found then
        raise exception using
            errcode = 'PT404',
            message = 'webhook_not_found',
            detail = pg_catalog.format('webhook %s', _replay_webhook.webhook_id);
    end if;
    if v_status in ('rejected', 'duplicate') then
        raise exception using
            errcode = '22023',
            message = 'webhook_not_replayable',
            detail = pg_catalog.format('webhook %s is %s', _replay_webhook.webhook_id, v_status),
            hint = case
                when v_status = 'duplicate' then pg_catalog.format('Replay the original, webhook %s.', v_original)
                else 'A rejected delivery failed its signature or required fields; have the provider send it again.'
            end;
    end if;
    return private._replay_locked_webhook(_replay_webhook.webhook_id, _replay_webhook.reason);
end
$$;

comment on function private._replay_webhook(bigint, text) is
'Implementation of public.replay_webhook (admins, service_role): reprocess one delivery, audited.';
revoke all on function private._replay_webhook(bigint, text) from public;
grant execute on function private._replay_webhook(bigint, text) to authenticated, service_role;

-- public.replay_webhook: process one stored webhook delivery again.
--
--   select public.replay_webhook(webhook_id => 42, reason => 'agent number provisioned late');
--   -> {webhook_id, status, previous_status, error, audit_id}
--
-- Who: platform admins and service_role. Audited (who, why, outcome). Replaying
-- a processed delivery does not double its effects. Errors: 22023
-- reason_required / webhook_not_replayable (rejected or duplicate rows),
-- PT404 webhook_not_found, 42501 not_allowed.
create or replace function public.replay_webhook(webhook_id bigint, reason text)
returns jsonb
language sql
volatile
set search_path = ''
as $$
    select private._replay_webhook(replay_webhook.webhook_id, replay_webhook.reason)
$$;

comment on function public.replay_webhook(bigint, text) is
'Replay one stored webhook delivery (platform admins, service_role); audited and idempotent in effect.';
revoke all on function public.replay_webhook(bigint, text) from public;
grant execute on function public.replay_webhook(bigint, text) to authenticated, service_role;
