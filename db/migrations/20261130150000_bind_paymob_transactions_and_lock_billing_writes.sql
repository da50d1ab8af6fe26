-- After review: one Paymob transaction and order settle one payment; service_role cannot write a plan upgrade.

-- One Paymob transaction id settles at most one payment, whatever the payment's
-- provider (the per-provider index let a re-targeted callback confirm an InstaPay
-- request with a transaction that had already confirmed a Paymob payment).
create unique index payments_paymob_transaction_idx on public.payments (provider_reference)
where provider_reference is not null;
drop index public.payments_provider_reference_idx;

-- The Paymob order (obj.order.id, covered by the HMAC, unlike merchant_order_id)
-- a payment's first verified callback came from; later callbacks must match it.
alter table public.payments add column paymob_order_id text;
comment on column public.payments.paymob_order_id is
'Paymob order id (obj.order.id) bound by the first verified callback; callbacks of another order are refused.';
create unique index payments_paymob_order_id_idx on public.payments (paymob_order_id)
where paymob_order_id is not null;

-- Nothing upgrades without a confirmation, service_role included: payments and
-- subscriptions are written only by the payment functions (security definer),
-- and workspaces.plan_key only by activation and cancellation.
revoke insert, update on public.payments, public.subscriptions from service_role;
revoke insert, update on public.workspaces from service_role;
grant insert (id, name, owner_id, status, status_reason) on public.workspaces to service_role;
grant update (name, owner_id, status, status_reason) on public.workspaces to service_role;
