-- private.webhooks_record_usage: record usage for a normalized event, keyed by
-- what was billed (a call's completed event, a message's SID), so it is counted
-- once whoever processes it (ingest, sweeper, replay) and in whatever order.
--
-- A provider's report is usage that already happened: record_usage records it
-- and moves limit_state even past the hard limit (it answers blocked then, and
-- raises the usage_blocked alert once), so it is billed. Any error fails the
-- delivery as usual, for the sweeper to retry, with its own SQLSTATE (the
-- implementation is called, not the API wrapper, which turns a lock timeout into
-- an HTTP answer).
create or replace function private.webhooks_record_usage(
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
        workspace_id => webhooks_record_usage.workspace_id,
        metric => webhooks_record_usage.metric,
        quantity => webhooks_record_usage.quantity,
        idempotency_key => webhooks_record_usage.idempotency_key,
        source => webhooks_record_usage.source
    );
end
$$;

comment on function private.webhooks_record_usage(uuid, text, numeric, text, text) is
'record_usage for an ingested event (idempotency key = what was billed); usage over the hard limit is recorded too.';
revoke all on function private.webhooks_record_usage(uuid, text, numeric, text, text) from public;
