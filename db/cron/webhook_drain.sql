-- The webhook drain: queued deliveries are processed within seconds of their
-- acknowledgement. pg_cron 1.4 schedules by the minute, so each minute's run keeps
-- draining, a short transaction per batch, until second 59 of that minute (see
-- private.drain_webhooks_continuously); pg_cron never runs two at once and starts
-- a late run as soon as the previous one ends.
select private.schedule_job(
    'webhook-drain',
    '* * * * *',
    $$call private.drain_webhooks_continuously()$$
);
