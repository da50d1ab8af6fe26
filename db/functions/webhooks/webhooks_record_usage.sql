-- private._webhooks_record_usage: record usage for a normalized event, keyed by
-- the event so it is counted once, whoever processes it (ingest, sweeper, replay).
--
-- Usage is metered after the fact, so an event that happened is kept even when
-- the workspace is already over its hard limit: record_usage then refuses with
-- PT402 (and has raised its usage_blocked alert); that refusal is answered as
-- {limit_state: blocked, refused: true} instead of failing the delivery, which
-- retrying could never fix. Any other error fails the delivery as usual, with its
-- own SQLSTATE (the implementation is called, not the API wrapper, which turns a
-- lock timeout into an HTTP answer).
create or replace function private._webhooks_record_usage(
    workspace_id uuid,
    metric text,
    quantity numeric,
    idempotency_key text,
    source text
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    return private._record_usage(
        workspace_id => _webhooks_record_usage.workspace_id,
        metric => _webhooks_record_usage.metric,
        quantity => _webhooks_record_usage.quantity,
        idempotency_key => _webhooks_record_usage.idempotency_key,
        source => _webhooks_record_usage.source
    );
exception when sqlstate 'PT402' then
    return pg_catalog.jsonb_build_object('limit_state', 'blocked', 'refused', true);
end
$$;

comment on function private._webhooks_record_usage(uuid, text, numeric, text, text) is
'record_usage for an ingested event (idempotency key = the event); a hard-limit refusal keeps the event.';
revoke all on function private._webhooks_record_usage(uuid, text, numeric, text, text) from public;
