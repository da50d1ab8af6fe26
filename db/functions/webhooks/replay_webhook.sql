-- private._replay_webhook: the implementation of public.replay_webhook.
--
-- Platform admins and the service_role backend only; a reason is required (it
-- goes to audit_logs). A duplicate is replayed through its original. A delivery
-- rejected for its signature (signature_valid false) is replayed only through its
-- signature check, run again with the secret Vault holds now (a secret rotated
-- wrongly when it arrived): if it passes, the delivery is processed (or becomes the
-- duplicate of a verified copy that holds its key); if it fails again, or cannot
-- be processed now, the call raises webhook_not_replayable and changes nothing, so
-- a forged delivery is never processed by anyone. A delivery rejected for missing
-- fields is never replayed (its payload will not change). The row is locked FOR
-- UPDATE, so concurrent replays of the same delivery, or a replay racing the
-- sweeper, run one after the other.
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
    v_signature_valid boolean;
    v_result jsonb;
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

    select q.status, q.duplicate_of, q.signature_valid
    into v_status, v_original, v_signature_valid
    from public.webhook_queue as q
    where q.id = _replay_webhook.webhook_id
    for update;
    if not found then
        raise exception using
            errcode = 'PT404',
            message = 'webhook_not_found',
            detail = pg_catalog.format('webhook %s', _replay_webhook.webhook_id);
    end if;
    if v_status = 'duplicate' or (v_status = 'rejected' and v_signature_valid is distinct from false) then
        raise exception using
            errcode = '22023',
            message = 'webhook_not_replayable',
            detail = pg_catalog.format('webhook %s is %s', _replay_webhook.webhook_id, v_status),
            hint = case
                when v_status = 'duplicate' then pg_catalog.format('Replay the original, webhook %s.', v_original)
                else 'A delivery rejected for missing required fields stays rejected; have the provider send it again.'
            end;
    end if;
    v_result := private._replay_locked_webhook(_replay_webhook.webhook_id, _replay_webhook.reason);
    if v_status = 'rejected'
        and coalesce(v_result ->> 'status', '') not in ('processed', 'unknown_phone', 'duplicate') then
        -- Still not authentic (or not processable now): undo everything, the audit row included.
        raise exception using
            errcode = '22023',
            message = 'webhook_not_replayable',
            detail = pg_catalog.format(
                'webhook %s is rejected and its signature check, run again, gave %s: %s',
                _replay_webhook.webhook_id, v_result ->> 'status', v_result ->> 'error'
            ),
            hint = 'Check the provider''s signing secret in Vault, or have the provider send it again.';
    end if;
    return v_result;
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
-- a processed delivery does not double its effects; a queued one is processed now
-- (the drain skips a row being replayed, and finds it processed afterwards). A delivery rejected for its
-- signature is processed only if its signature, checked again with the secret in
-- Vault now, passes (a signing secret that was wrong when it arrived). Errors: 22023
-- reason_required / webhook_not_replayable (duplicates, rows rejected for missing
-- fields, rejected rows whose signature still fails), PT404 webhook_not_found,
-- 42501 not_allowed.
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
