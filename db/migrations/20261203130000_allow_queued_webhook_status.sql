-- opsdb:destructive replaces webhook_status's check with a wider one (adds queued); every stored value passes both
-- A delivery can be acknowledged before it is processed: status 'queued' (verified,
-- deduplicated, stored; the drain processes it, see db/functions/webhooks/drain_webhooks.sql).
--
-- The domain's rule is replaced by a wider one. Every stored value satisfies the new
-- rule (it only adds 'queued'), so it is added NOT VALID: validating would scan all of
-- webhook_queue under a lock that stops ingestion, to prove what the old rule already
-- proved. New values are checked as before.
alter domain public.webhook_status drop constraint webhook_status_check;
-- NOT VALID: no table is scanned or locked for long (squawk's concern with domain constraints).
-- squawk-ignore ban-alter-domain-with-add-constraint
alter domain public.webhook_status add constraint webhook_status_check check (
    value in ('received', 'queued', 'processed', 'duplicate', 'unknown_phone', 'failed', 'rejected', 'dead_letter')
) not valid;

comment on column public.webhook_queue.status is
'queued (verified and holding its key; processed by the drain, public.drain_webhooks), processed, duplicate, '
'unknown_phone, failed (will be retried), rejected (bad signature or unusable payload; never processed), '
'dead_letter (retries exhausted). received is allowed but not written: a delivery processed in the ingest call '
'is inserted saying processed and corrected before its transaction ends, so no other session sees it in between.';

comment on column public.webhook_queue.attempts is
'Processing attempts made so far: 0 while queued, 1 after the first (in the ingest call or by the drain).';
