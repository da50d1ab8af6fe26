-- The webhook retry sweeper: every minute, retry failed deliveries that are due
-- (exponential backoff and dead-lettering are in public.retry_failed_webhooks).
-- 100 rows a run keeps each run's transaction short (every row is processed in
-- a sub-transaction of it); 6,000 retries an hour is far above normal failure rates.
select private.schedule_job(
    'webhook-retry-sweeper',
    '* * * * *',
    $$select public.retry_failed_webhooks(100)$$
);
