-- webhook_queue.status: say what 'received' means now that ingest_webhook inserts
-- the claimed row with its outcome (see db/functions/webhooks/ingest_webhook.sql).

comment on column public.webhook_queue.status is
'processed, duplicate, unknown_phone, failed (will be retried), rejected (bad signature or unusable payload; '
'never processed), dead_letter (retries exhausted). received is allowed but no longer written: ingest_webhook '
'inserts the claimed row already saying processed and corrects it before its transaction ends, so no other '
'session ever sees a delivery in between.';
