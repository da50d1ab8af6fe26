-- Hot-path tuning, fourth step: usage_events gets the indexes an append-only log
-- wants.
--
-- Before: primary key (workspace_id, period_start, metric, tier_snapshot_id, id),
-- whose every insert searches a five-column key among a thousand insertion points,
-- plus the partial unique index on (workspace_id, idempotency_key). After:
-- * primary key (id): ids only grow, so an insert lands on the rightmost leaf,
--   which PostgreSQL reaches without a descent;
-- * unique (workspace_id, idempotency_key), no longer partial: NULL keys stay
--   distinct (a keyless record never conflicts), the uniqueness per workspace is
--   the same, and the index now also serves every read by workspace (RLS, members);
-- * BRIN on period_start: events arrive in time order, so a block range summary
--   finds a period's events for billing at almost no cost per insert.
-- Measured with bench/ (plain INSERT of an event, 8 clients, ratio to
-- insert_unique_key): the old pair of indexes 60%, the new pair 68%.
-- ON CONFLICT (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL
-- in record_usage still infers the new index (a non-partial unique index
-- satisfies any predicate).

alter table public.usage_events drop constraint usage_events_pkey;
alter table public.usage_events add constraint usage_events_pkey primary key (id);

drop index public.usage_events_idempotency_key_idx;
create unique index usage_events_workspace_id_idempotency_key_idx
on public.usage_events (workspace_id, idempotency_key);

create index usage_events_period_start_brin_idx on public.usage_events using brin (period_start);
