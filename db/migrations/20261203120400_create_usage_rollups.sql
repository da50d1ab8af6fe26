-- Usage totals per day and per billing period, kept incrementally, so the nightly jobs read the period they
-- report on and not the whole history: billing lines (per period, metric and tier snapshot, still citing
-- their events by id range and count), reconciliation and weekly insights (per UTC day).
--
-- The totals are folded from usage_events by private.fold_usage_rollups (pg_cron, every minute), never
-- written on the usage write path, so record_usage and every batch path cost what they did. Readers add the
-- events not folded yet (ids above folded_through, a short range of the primary key): the views
-- private.usage_daily_live and private.usage_period_live are exact at any moment.
--
-- Only rows of closed transactions are folded: ids come from a sequence when a row is inserted, so an id may
-- commit after a higher one. The fold records the sequence's value and the time it read it; once every
-- transaction that was running at that time has ended, every id up to that value is final and is folded.

create table private.usage_rollup_state (
    name text primary key check (name = 'usage_events'),
    folded_through bigint not null default 0,
    pending_through bigint,
    pending_at timestamptz,
    folded_at timestamptz,
    check ((pending_through is null) = (pending_at is null))
);

comment on table private.usage_rollup_state is
'How far the usage rollups have folded usage_events: every event with id <= folded_through is in them; '
'pending_through is the sequence value read at pending_at, final once every transaction running then has ended.';

-- Already recorded events are folded by the first runs of the job: their ids are final once the
-- transactions running now have ended.
insert into private.usage_rollup_state (name, folded_through, pending_through, pending_at)
select
    'usage_events' as name,
    0 as folded_through,
    case when s.is_called then s.last_value else s.last_value - 1 end as pending_through,
    clock_timestamp() as pending_at
from public.usage_events_id_seq as s;

create table private.usage_daily_totals (
    workspace_id uuid not null,
    usage_date date not null,
    metric text not null,
    period_start date not null,
    tier_snapshot_id bigint not null,
    source text,
    quantity numeric not null,
    event_count bigint not null check (event_count > 0),
    first_event_id bigint not null,
    last_event_id bigint not null,
    constraint usage_daily_totals_key unique nulls not distinct (
        workspace_id, usage_date, metric, period_start, tier_snapshot_id, source
    ),
    check (first_event_id <= last_event_id)
);

comment on table private.usage_daily_totals is
'usage_events folded per workspace, UTC day of occurred_at, metric, period, tier snapshot and source: the sum, '
'the count and the first and last event id. Reconciliation and weekly insights read these.';

create index usage_daily_totals_usage_date_idx on private.usage_daily_totals (usage_date);

create table private.usage_period_totals (
    workspace_id uuid not null,
    period_start date not null,
    metric text not null,
    tier_snapshot_id bigint not null,
    quantity numeric not null,
    event_count bigint not null check (event_count > 0),
    first_event_id bigint not null,
    last_event_id bigint not null,
    primary key (workspace_id, period_start, metric, tier_snapshot_id),
    check (first_event_id <= last_event_id)
);

comment on table private.usage_period_totals is
'usage_events folded per workspace, billing period, metric and tier snapshot: exactly the grain of '
'billing_line_items (sum, count, first and last event id).';

create index usage_period_totals_period_start_idx on private.usage_period_totals (period_start);

revoke all on private.usage_rollup_state, private.usage_daily_totals, private.usage_period_totals
from public, anon, authenticated, service_role;

-- The totals as of now: the folded rows plus the events not folded yet, in one statement's snapshot (the
-- fold moves rows and the watermark in one transaction, so no event is counted twice or missed). Several
-- rows may share a key (a folded one and the tail's): readers group.
create view private.usage_daily_live with (security_invoker = true) as
select
    t.workspace_id,
    t.usage_date,
    t.metric,
    t.period_start,
    t.tier_snapshot_id,
    t.source,
    t.quantity,
    t.event_count,
    t.first_event_id,
    t.last_event_id
from private.usage_daily_totals as t
union all
select
    e.workspace_id,
    (e.occurred_at at time zone 'UTC')::date as usage_date,
    e.metric,
    e.period_start,
    e.tier_snapshot_id,
    e.source,
    sum(e.quantity) as quantity,
    count(*) as event_count,
    min(e.id) as first_event_id,
    max(e.id) as last_event_id
from public.usage_events as e
where e.id > (select s.folded_through from private.usage_rollup_state as s where s.name = 'usage_events')
group by
    e.workspace_id, (e.occurred_at at time zone 'UTC')::date, e.metric, e.period_start, e.tier_snapshot_id, e.source;

comment on view private.usage_daily_live is
'Usage per workspace, UTC day, metric, period, tier snapshot and source as of now: private.usage_daily_totals '
'plus the events not folded yet (rows may repeat a key: group them).';

create view private.usage_period_live with (security_invoker = true) as
select
    t.workspace_id,
    t.period_start,
    t.metric,
    t.tier_snapshot_id,
    t.quantity,
    t.event_count,
    t.first_event_id,
    t.last_event_id
from private.usage_period_totals as t
union all
select
    e.workspace_id,
    e.period_start,
    e.metric,
    e.tier_snapshot_id,
    sum(e.quantity) as quantity,
    count(*) as event_count,
    min(e.id) as first_event_id,
    max(e.id) as last_event_id
from public.usage_events as e
where e.id > (select s.folded_through from private.usage_rollup_state as s where s.name = 'usage_events')
group by e.workspace_id, e.period_start, e.metric, e.tier_snapshot_id;

comment on view private.usage_period_live is
'Usage per workspace, billing period, metric and tier snapshot as of now: private.usage_period_totals plus the '
'events not folded yet (rows may repeat a key: group them).';

revoke all on private.usage_daily_live, private.usage_period_live from public, anon, authenticated, service_role;
