-- private.replay_locked_webhook: process one stored delivery again, on behalf
-- of an operator, and audit who did it, why, and what came of it.
--
-- The caller has authorized the request and locked the row FOR UPDATE, and it is
-- not a duplicate; a row not verified yet (signature_valid null, or false for a
-- rejected row replayed through its check) has its signature checked first by
-- private.run_webhook. Effects are not doubled: normalized rows are
-- unique by the provider's ids and usage is keyed by the event, so replaying a
-- processed delivery writes nothing new; unknown_phone is not counted again.
create or replace function private.replay_locked_webhook(webhook_id bigint, reason text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_row public.webhook_queue%rowtype;
    v_result jsonb;
    v_audit_id bigint;
begin
    select q.* into v_row from public.webhook_queue as q where q.id = replay_locked_webhook.webhook_id;
    v_result := private.run_webhook(
        v_row.id, v_row.provider, v_row.event_type, v_row.payload, v_row.status,
        v_row.signature_valid is not true, v_row.headers, v_row.raw_body, v_row.url
    );
    v_audit_id := private.audit(
        'webhook.replay',
        'webhook_queue',
        v_row.id::text,
        (v_result ->> 'workspace_id')::uuid,
        pg_catalog.jsonb_build_object(
            'status', v_row.status, 'attempts', v_row.attempts, 'last_error', v_row.last_error,
            'provider', v_row.provider, 'event_type', v_row.event_type
        ),
        pg_catalog.jsonb_build_object(
            'status', v_result ->> 'status',
            'skip_reason', v_result ->> 'skip_reason',
            'error', coalesce(v_result ->> 'error', v_result ->> 'reason')
        ),
        replay_locked_webhook.reason
    );
    return pg_catalog.jsonb_build_object(
        'webhook_id', v_row.id,
        'status', v_result ->> 'status',
        'previous_status', v_row.status,
        'error', coalesce(v_result ->> 'error', v_result ->> 'reason'),
        'audit_id', v_audit_id
    );
end
$$;

comment on function private.replay_locked_webhook(bigint, text) is
'Reprocess one locked, replayable webhook row and write its audit_logs entry (who, why, outcome).';
revoke all on function private.replay_locked_webhook(bigint, text) from public;
