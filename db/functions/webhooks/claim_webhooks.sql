-- private.claim_webhooks: lock up to max_count deliveries that are waiting for a
-- processing attempt, for the caller's transaction, and return them in the order
-- they are to be processed.
--
--   'queued': verified deliveries not processed yet, oldest first (the drain);
--   'failed': failed deliveries whose next attempt is due, oldest due first (the
--             retry sweeper).
--
-- FOR UPDATE SKIP LOCKED: callers running at the same time (two drains, a drain
-- and a replay, two sweepers) each take different rows and never wait for each
-- other; a row being replayed is left to its replay. A claimed row stays locked
-- until the caller's transaction ends, so whatever it writes about the row (its
-- outcome, its normalized events) commits or vanishes together: a caller that
-- crashes leaves its rows as they were, to be claimed again.
create or replace function private.claim_webhooks(status text, max_count integer)
returns setof public.webhook_queue
language plpgsql
volatile
set search_path = ''
as $$
begin
    -- Two statements, not one with an OR: each is answered from its own partial
    -- index (webhook_queue_queued_idx, webhook_queue_retry_idx).
    if claim_webhooks.status = 'queued' then
        return query
        select q.*
        from public.webhook_queue as q
        where q.status = 'queued'
        order by q.id
        limit claim_webhooks.max_count
        for update skip locked;
    elsif claim_webhooks.status = 'failed' then
        return query
        select q.*
        from public.webhook_queue as q
        where q.status = 'failed' and q.next_attempt_at <= pg_catalog.now()
        order by q.next_attempt_at, q.id
        limit claim_webhooks.max_count
        for update skip locked;
    else
        raise exception using
            errcode = '22023',
            message = 'invalid_status',
            detail = pg_catalog.format('status %L', claim_webhooks.status),
            hint = 'Claim queued or failed deliveries.';
    end if;
end
$$;

comment on function private.claim_webhooks(text, integer) is
'Lock (FOR UPDATE SKIP LOCKED) and return up to max_count queued, or due failed, deliveries in processing order.';
revoke all on function private.claim_webhooks(text, integer) from public;
