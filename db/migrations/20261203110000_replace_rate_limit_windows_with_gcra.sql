-- opsdb:destructive fixed-window counts (hits) give way to GCRA's one timestamp per key; disposable unlogged state
-- check_rate_limit moves from fixed windows to GCRA (the generic cell rate
-- algorithm): a fixed window let a client send its limit at the end of one window
-- and again at the start of the next, twice its limit in an instant. GCRA keeps
-- one timestamp per workspace and bucket, the theoretical arrival time (tat), and
-- bounds every window, aligned or not.
--
-- An existing window_start becomes the tat: it lies in the past, which GCRA reads
-- as a full allowance, so each workspace starts afresh once (the counters were
-- already allowed to vanish on a crash).

alter table private.rate_limit_counters drop column hits;
alter table private.rate_limit_counters rename column window_start to tat;
comment on table private.rate_limit_counters is
'GCRA state of check_rate_limit: one theoretical arrival time per workspace and bucket (unlogged: fast, disposable).';
comment on column private.rate_limit_counters.tat is
'When the allowance is whole again; a request is allowed while tat + one interval stays within one window of now.';

update public.retention_policies
set description = 'private.rate_limit_counters limiter state whose tat has passed, by tat'
where name = 'rate_limit_counters';

comment on table public.plan_rate_limits is
'Per plan and bucket: max_requests per window_seconds, as GCRA (check_rate_limit): up to max_requests at once, '
'then one every window_seconds / max_requests seconds.';

alter table public.plan_rate_limits add column spike_refusals integer check (spike_refusals > 0);
comment on column public.plan_rate_limits.spike_refusals is
'Refusals of one workspace within one UTC minute that raise a rate_limit_spike alert; '
'null: as many as the bucket allows per minute.';

-- Every refusal, counted per workspace, bucket and UTC minute, for the monitoring
-- signals (429s over 5 minutes, 1 hour, 24 hours) and the spike alert. A ring of
-- 1,440 minute slots per workspace and bucket: a slot is reused a day later, so
-- the table never grows past a day of minutes per key and needs no cleanup. Logged,
-- unlike the limiter state: a count of refusals is a record, and only refusals
-- write it.
create table private.rate_limit_refusals (
    workspace_id uuid not null,
    bucket text not null,
    slot smallint not null check (slot between 0 and 1439),
    minute timestamptz not null,
    refusals integer not null check (refusals > 0),
    primary key (workspace_id, bucket, slot)
) with (fillfactor = 70);
comment on table private.rate_limit_refusals is
'Requests check_rate_limit refused, per workspace, bucket and UTC minute (slot = minute of the day; '
'a row counts only while minute is within the last 24 hours).';
-- The monitoring reads the last minutes of every key; a refusal within an already
-- counted minute leaves minute alone, so it stays a HOT update.
create index rate_limit_refusals_minute_idx on private.rate_limit_refusals (minute);
revoke all on private.rate_limit_refusals from public, anon, authenticated, service_role;
