-- private.run_ingested_webhook: process a delivery ingest_webhook has just
-- claimed, in the call, and answer ingest_webhook.
--
-- The row was inserted already saying processed, with this attempt counted
-- (stored_as_processed): private.run_webhook corrects it when the outcome is
-- another. A permanent error dead-letters the row at once; the answer stays
-- failed (the contract's status), with dead_letter saying it will not be retried.
-- Called by private._ingest_webhook (process_now).
create or replace function private.run_ingested_webhook(
    webhook_id bigint,
    provider text,
    event_type text,
    idempotency_key text,
    payload jsonb
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_result jsonb := private.run_webhook(
        run_ingested_webhook.webhook_id, run_ingested_webhook.provider, run_ingested_webhook.event_type,
        run_ingested_webhook.payload, 'received',
        stored_as_processed => true
    );
begin
    return pg_catalog.jsonb_build_object(
        'webhook_id', run_ingested_webhook.webhook_id,
        'status', case v_result ->> 'status' when 'dead_letter' then 'failed' else v_result ->> 'status' end,
        'dead_letter', v_result ->> 'status' = 'dead_letter',
        'idempotency_key', run_ingested_webhook.idempotency_key,
        'duplicate', false,
        'event_type', run_ingested_webhook.event_type,
        'skip_reason', v_result ->> 'skip_reason',
        'error', v_result ->> 'error'
    );
end
$$;

comment on function private.run_ingested_webhook(bigint, text, text, text, jsonb) is
'Process a delivery ingest_webhook has just stored as processed, in the call; ingest_webhook''s answer.';
revoke all on function private.run_ingested_webhook(bigint, text, text, text, jsonb) from public;
