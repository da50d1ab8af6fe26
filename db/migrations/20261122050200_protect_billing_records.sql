-- Billing records are kept forever: no API role deletes payments or
-- subscriptions (service_role included). A canceled subscription is a status,
-- not a missing row, and a payment's history is the evidence support needs.
revoke delete, truncate on public.payments, public.subscriptions from service_role;
