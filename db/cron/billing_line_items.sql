-- Nightly: regenerate billing_line_items of the period that contained yesterday, so the
-- lines stay current during a month and are final on the 1st (idempotent, re-runnable).
select private.schedule_job(
    'billing-line-items',
    '20 0 * * *',
    $$select private.generate_all_billing_line_items(date_trunc('month', now() - interval '1 day')::date)$$
);
