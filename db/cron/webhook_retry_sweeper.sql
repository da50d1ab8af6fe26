-- The webhook retry sweeper: every minute, retry failed deliveries that are due
-- (exponential backoff and dead-lettering are in public.retry_failed_webhooks).
select private.schedule_job(
    'webhook-retry-sweeper',
    '* * * * *',
    $$select public.retry_failed_webhooks(500)$$
);
