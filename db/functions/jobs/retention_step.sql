-- Retention's batch, shared by public.run_retention_cleanup and private.run_retention_in_batches
-- (db/functions/jobs/run_retention_cleanup.sql says what expires and how the two run it).

-- private.retention_step: delete one batch of a policy's expired rows.
--
-- At most max_rows rows older than cutoff, in key order after (after_at,
-- after_id); returns how many went, how many it picked (fewer than max_rows:
-- the policy has no more) and the last key picked, to continue from. Rows
-- changed since the batch read them (a replay) are skipped, never deleted.
-- lock_timeout: a row locked by someone else ends the batch with 55P03
-- instead of waiting.
create or replace function private.retention_step(
    policy text,
    cutoff timestamptz,
    max_rows integer,
    after_at timestamptz default null,
    after_id bigint default null,
    keep_job_run bigint default null
)
returns table (deleted integer, picked integer, last_at timestamptz, last_id bigint)
language plpgsql
volatile
security definer
set search_path = ''
set lock_timeout = '500ms'
as $$
#variable_conflict use_column
declare
    -- No cursor yet: start before every row (the row comparison stays an index condition).
    v_at timestamptz := coalesce(retention_step.after_at, '-infinity');
    v_id bigint := coalesce(retention_step.after_id, -9223372036854775808);
    v_refusals integer;
begin
    -- One statement per policy: the rows are picked and deleted under one snapshot,
    -- so the row versions named by ctid cannot be pruned and reused in between.
    case retention_step.policy
        when 'webhook_deliveries' then
            with doomed as materialized (
                select d.ctid as tid, d.received_at as at, d.id
                from public.webhook_queue as d
                where (d.received_at, d.id) > (v_at, v_id)
                    and d.received_at < retention_step.cutoff
                    and d.status in ('processed', 'duplicate', 'rejected', 'unknown_phone')
                order by d.received_at, d.id
                limit retention_step.max_rows
            ),

            gone as (
                delete from public.webhook_queue as q
                where q.ctid = any(array(select doomed.tid from doomed))
                returning 1
            )

            select (select count(*) from gone)::integer, (select count(*) from doomed)::integer, l.at, l.id
            into deleted, picked, last_at, last_id
            from (select null) as one
            left join lateral (select d.at, d.id from doomed as d order by d.at desc, d.id desc limit 1) as l on true;
        when 'webhook_dead_letters' then
            with doomed as materialized (
                select d.ctid as tid, d.received_at as at, d.id
                from public.webhook_queue as d
                where d.status = 'dead_letter'
                    and (d.received_at, d.id) > (v_at, v_id)
                    and d.received_at < retention_step.cutoff
                order by d.received_at, d.id
                limit retention_step.max_rows
            ),

            gone as (
                delete from public.webhook_queue as q
                where q.ctid = any(array(select doomed.tid from doomed)) and q.status = 'dead_letter'
                returning 1
            )

            select (select count(*) from gone)::integer, (select count(*) from doomed)::integer, l.at, l.id
            into deleted, picked, last_at, last_id
            from (select null) as one
            left join lateral (select d.at, d.id from doomed as d order by d.at desc, d.id desc limit 1) as l on true;
        when 'unknown_phone' then
            with doomed as materialized (
                select d.ctid as tid, d.last_seen_at as at, d.id
                from public.unknown_phone as d
                where (d.last_seen_at, d.id) > (v_at, v_id) and d.last_seen_at < retention_step.cutoff
                order by d.last_seen_at, d.id
                limit retention_step.max_rows
            ),

            gone as (
                delete from public.unknown_phone as u
                where u.ctid = any(array(select doomed.tid from doomed))
                returning 1
            )

            select (select count(*) from gone)::integer, (select count(*) from doomed)::integer, l.at, l.id
            into deleted, picked, last_at, last_id
            from (select null) as one
            left join lateral (select d.at, d.id from doomed as d order by d.at desc, d.id desc limit 1) as l on true;
        when 'acknowledged_alerts' then
            with doomed as materialized (
                -- Resolved alerts only (open ones never expire), through alerts_resolved_idx.
                select d.ctid as tid, d.resolved_at as at, d.id
                from public.alerts as d
                where (d.resolved_at, d.id) > (v_at, v_id) and d.resolved_at < retention_step.cutoff
                order by d.resolved_at, d.id
                limit retention_step.max_rows
            ),

            gone as (
                delete from public.alerts as a
                where a.ctid = any(array(select doomed.tid from doomed))
                returning 1
            )

            select (select count(*) from gone)::integer, (select count(*) from doomed)::integer, l.at, l.id
            into deleted, picked, last_at, last_id
            from (select null) as one
            left join lateral (select d.at, d.id from doomed as d order by d.at desc, d.id desc limit 1) as l on true;
        when 'job_runs' then
            with doomed as materialized (
                select d.ctid as tid, d.started_at as at, d.id
                from public.job_runs as d
                where (d.started_at, d.id) > (v_at, v_id)
                    and d.started_at < retention_step.cutoff
                    and d.id is distinct from retention_step.keep_job_run
                order by d.started_at, d.id
                limit retention_step.max_rows
            ),

            gone as (
                delete from public.job_runs as j
                where j.ctid = any(array(select doomed.tid from doomed))
                returning 1
            )

            select (select count(*) from gone)::integer, (select count(*) from doomed)::integer, l.at, l.id
            into deleted, picked, last_at, last_id
            from (select null) as one
            left join lateral (select d.at, d.id from doomed as d order by d.at desc, d.id desc limit 1) as l on true;
        when 'rate_limit_counters' then
            -- The limiter's state: counters whose tat has passed, and refusal counts of
            -- minutes past (a refusal slot counts only within its day). Both hold a
            -- few rows per workspace and bucket: no key to continue from. The outer
            -- conditions are re-checked on a row the limiter changed meanwhile.
            delete from private.rate_limit_counters as c
            where c.ctid = any(array(
                select d.ctid from private.rate_limit_counters as d
                where d.tat < retention_step.cutoff
                limit retention_step.max_rows
            ))
                and c.tat < retention_step.cutoff;
            get diagnostics deleted = row_count;
            delete from private.rate_limit_refusals as r
            where r.ctid = any(array(
                select d.ctid from private.rate_limit_refusals as d
                where d.minute < retention_step.cutoff
                limit retention_step.max_rows - deleted
            ))
                and r.minute < retention_step.cutoff;
            get diagnostics v_refusals = row_count;
            deleted := deleted + v_refusals;
            picked := deleted;
        else
            raise exception using
                errcode = '22023', message = 'unknown_retention_policy',
                detail = pg_catalog.format('policy %L', retention_step.policy);
    end case;
    return next;
end
$$;

comment on function private.retention_step(text, timestamptz, integer, timestamptz, bigint, bigint) is
'Delete one batch (at most max_rows) of a retention policy''s rows older than cutoff, in key order after '
'(after_at, after_id); returns the rows deleted and picked and the last key picked. '
'Never waits for a row lock (55P03).';
revoke all on function private.retention_step(text, timestamptz, integer, timestamptz, bigint, bigint) from public;

-- The table a policy deletes from, as run results name it.
create or replace function private.retention_table(policy text)
returns text
language sql
immutable
set search_path = ''
as $$
    select case retention_table.policy
        when 'webhook_deliveries' then 'webhook_queue'
        when 'webhook_dead_letters' then 'webhook_queue'
        when 'acknowledged_alerts' then 'alerts'
        else retention_table.policy
    end
$$;

comment on function private.retention_table(text) is
'The table a retention policy deletes from (run results count by table).';
revoke all on function private.retention_table(text) from public;

-- One retention_backlog alert for a run that ran out of time with rows left.
create or replace function private.alert_retention_backlog(job_run_id bigint, more text[])
returns void
language sql
volatile
security definer
set search_path = ''
as $$
    select private.raise_alert(
        'retention_backlog',
        'retention_backlog',
        pg_catalog.format(
            'retention cleanup run %s ran out of time with rows left to delete: %s',
            alert_retention_backlog.job_run_id, pg_catalog.array_to_string(alert_retention_backlog.more, ', ')
        ),
        null,
        'warning',
        pg_catalog.jsonb_build_object(
            'job_run_id', alert_retention_backlog.job_run_id, 'more', pg_catalog.to_jsonb(alert_retention_backlog.more)
        )
    );
$$;

comment on function private.alert_retention_backlog(bigint, text[]) is
'Raise the one open retention_backlog alert: a run ran out of time with rows left (listed).';
revoke all on function private.alert_retention_backlog(bigint, text[]) from public;
