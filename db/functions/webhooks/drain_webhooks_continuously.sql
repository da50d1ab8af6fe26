-- private.drain_webhooks_continuously: the drain pg_cron runs (db/cron/webhook_drain.sql).
--
--   call private.drain_webhooks_continuously();                 -- until second 59 of this minute
--   call private.drain_webhooks_continuously(seconds => 5);     -- for 5 seconds
--
-- pg_cron 1.4 schedules by the minute, and a queued delivery is to be processed
-- within seconds, so the job started each minute keeps draining until second 59 of
-- that minute: a batch (private.drain_webhook_batch, at most max_count rows) and a
-- COMMIT, again at once while there is work, after idle_seconds when the queue was
-- empty. A delivery therefore waits about idle_seconds / 2 on average when the queue
-- is idle (plus up to a second between two runs), and during a burst the drain runs
-- flat out. Each batch is its own short transaction (a 1,000-row batch takes a
-- fraction of a second), so nothing is held for long, and a crash loses at most the
-- batch in progress, whose rows stay queued. pg_cron runs one instance of a job at
-- a time and starts a late one as soon as the previous ends, so runs never overlap.
-- The run is logged once in job_runs (webhook_drain) when it drained anything.
--
-- It steps aside for DROP DATABASE: on PostgreSQL 15, pg_cron's launcher does not
-- answer a ProcSignalBarrier while one of its jobs runs (pg_cron issue 318), so
-- DROP DATABASE (and DROP TABLESPACE, ALTER DATABASE SET TABLESPACE) would wait for
-- the end of the minute. When a backend waits on one, the run ends after its
-- current batch, and the next minute's run carries on. (pg_stat_activity shows
-- other sessions' wait events to superusers and pg_read_all_stats members; for any
-- other job owner the check sees nothing and the run lasts its minute.)
--
-- A procedure, for its COMMITs: so it has no SET clause and is not a definer (either
-- forbids transaction control); every name in it is schema-qualified. It runs as its
-- caller: pg_cron's job owner, or an operator. Without pg_cron, any scheduler that
-- can CALL it once a minute does the same job.
create or replace procedure private.drain_webhooks_continuously(
    seconds double precision default null,
    max_count integer default 1000,
    idle_seconds double precision default 0.25
)
language plpgsql
as $$
declare
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_stop timestamptz;
    v_batch jsonb;
    v_total jsonb := '{}'::jsonb;
    v_batches integer := 0;
    v_key text;
    v_run bigint;
begin
    if drain_webhooks_continuously.max_count is null or drain_webhooks_continuously.max_count not between 1 and 10000 then
        raise exception using
            errcode = '22023',
            message = 'invalid_max_count',
            detail = pg_catalog.format('max_count %s', drain_webhooks_continuously.max_count),
            hint = 'max_count is between 1 and 10000.';
    end if;
    v_stop := case
        when drain_webhooks_continuously.seconds is null
            then pg_catalog.date_trunc('minute', v_started) + interval '59 seconds'
        else v_started + pg_catalog.make_interval(secs => drain_webhooks_continuously.seconds)
    end;
    loop
        v_batch := private.drain_webhook_batch(drain_webhooks_continuously.max_count);
        commit;
        if (v_batch ->> 'drained')::integer > 0 then
            v_batches := v_batches + 1;
            for v_key in select k from pg_catalog.jsonb_object_keys(v_batch) as k loop
                v_total := v_total || pg_catalog.jsonb_build_object(
                    v_key, coalesce((v_total ->> v_key)::integer, 0) + (v_batch ->> v_key)::integer
                );
            end loop;
        end if;
        exit when pg_catalog.clock_timestamp() >= v_stop
            or exists (select from pg_catalog.pg_stat_activity as a where a.wait_event = 'ProcSignalBarrier');
        if (v_batch ->> 'drained')::integer = 0 then
            perform pg_catalog.pg_sleep(
                least(
                    drain_webhooks_continuously.idle_seconds,
                    extract(epoch from v_stop - pg_catalog.clock_timestamp())
                )
            );
            commit;
        end if;
    end loop;

    if v_batches > 0 then
        v_run := private.job_run_start(
            'webhook_drain',
            pg_catalog.jsonb_build_object(
                'max_count', drain_webhooks_continuously.max_count, 'started_at', v_started, 'continuous', true
            ),
            exclusive => false
        );
        perform private.job_run_finish(
            v_run,
            v_total || pg_catalog.jsonb_build_object(
                'batches', v_batches,
                'seconds', pg_catalog.round(extract(epoch from pg_catalog.clock_timestamp() - v_started)::numeric, 1)
            )
        );
        commit;
    end if;
end
$$;

comment on procedure private.drain_webhooks_continuously is
'pg_cron''s webhook drain: batches of queued deliveries, each committed, until second 59 of the minute (or seconds).';
revoke all on procedure private.drain_webhooks_continuously from public;
