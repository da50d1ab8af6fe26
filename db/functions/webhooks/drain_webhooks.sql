-- private._drain_webhook_batch: process up to max_count queued deliveries, oldest
-- first, in the caller's transaction. Returns {drained, processed, unknown_phone,
-- failed, dead_lettered}.
--
-- Rows are claimed a chunk at a time through private._claim_webhooks (FOR UPDATE
-- SKIP LOCKED): a row being replayed is left to its replay, and a claimed row stays
-- locked, so it is processed once. A queued row was verified and holds its
-- idempotency key when it was stored, so the drain only processes it.
--
-- One drain at a time (a transaction-scoped advisory lock; a second drain waits for
-- the first to commit, then takes what is left). Processing a batch locks the period
-- totals (usage_limits) of every workspace in it until commit, in the order the
-- deliveries arrived: two drains interleaving the same workspaces in different
-- orders would deadlock, and a campaign's deliveries share one workspace anyway.
-- The retry sweeper holds the same lock shared, for the same reason; sweepers still
-- run side by side.
--
-- Each chunk is processed in one sub-transaction: every row through the same
-- private._process_webhook the other paths use (one set of rules for ingest, drain,
-- sweeper and replay), then one UPDATE writes the chunk's outcomes. If any row of
-- the chunk raises, the whole chunk is undone and its rows are processed again one
-- by one, each in its own sub-transaction (private._run_webhook): the failing row
-- ends failed, with its error and its retry time, and the others are processed. So
-- an error never loses or doubles another row's work, and the price of a bad row is
-- one chunk processed twice. Between chunks nothing is committed: a drain that dies
-- mid-batch (crash, cancel) leaves every row of its batch queued, with none of its
-- writes, for the next drain.
-- Callers: private._drain_webhooks (public.drain_webhooks) and the drain that
-- pg_cron runs (private.drain_webhooks_continuously).
create or replace function private._drain_webhook_batch(max_count integer)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    -- Rows per sub-transaction: large enough that the per-chunk costs (the
    -- sub-transaction, the outcome UPDATE) are spread thin, small enough that a
    -- bad row costs little work done twice.
    v_chunk_size constant integer := 100;
    v_chunk public.webhook_queue[];
    v_row public.webhook_queue;
    v_result jsonb;
    v_ids bigint[];
    v_statuses text[];
    v_skip_reasons text[];
    v_status text;
    v_drained integer := 0;
    v_processed integer := 0;
    v_unknown integer := 0;
    v_failed integer := 0;
    v_dead integer := 0;
    v_dead_ids bigint[] := '{}'::bigint[];
begin
    -- Class 4242 keys job locks by name (private._job_run_start).
    perform pg_catalog.pg_advisory_xact_lock(4242, pg_catalog.hashtext('webhook_drain'));
    loop
        exit when v_drained >= _drain_webhook_batch.max_count;
        select pg_catalog.array_agg(c order by c.id)
        into v_chunk
        from private._claim_webhooks('queued', least(v_chunk_size, _drain_webhook_batch.max_count - v_drained)) as c;
        exit when v_chunk is null;
        v_drained := v_drained + pg_catalog.cardinality(v_chunk);

        begin
            v_ids := '{}';
            v_statuses := '{}';
            v_skip_reasons := '{}';
            foreach v_row in array v_chunk loop
                v_result := private._process_webhook(
                    v_row.id, v_row.provider, v_row.event_type, v_row.payload, v_row.status
                );
                v_ids := v_ids || v_row.id;
                v_statuses := v_statuses || (v_result ->> 'status');
                v_skip_reasons := v_skip_reasons || (v_result ->> 'skip_reason');
            end loop;
            -- What private._run_webhook writes for a successful attempt, for the whole chunk.
            update public.webhook_queue as q
            set status = o.status,
                skip_reason = o.skip_reason,
                attempts = q.attempts + 1,
                last_error = null,
                next_attempt_at = null,
                processed_at = pg_catalog.now()
            from rows from (
                pg_catalog.unnest(v_ids), pg_catalog.unnest(v_statuses), pg_catalog.unnest(v_skip_reasons)
            ) as o (id, status, skip_reason)
            where q.id = o.id;
            foreach v_status in array v_statuses loop
                if v_status = 'unknown_phone' then
                    v_unknown := v_unknown + 1;
                else
                    v_processed := v_processed + 1;
                end if;
            end loop;
        exception when others then
            -- Undone: each row again on its own (query_canceled is not caught: a
            -- cancelled drain ends, and its rows stay queued).
            foreach v_row in array v_chunk loop
                v_result := private._run_webhook(
                    v_row.id, v_row.provider, v_row.event_type, v_row.payload, v_row.status,
                    alert_dead_letter => false
                );
                case v_result ->> 'status'
                    when 'unknown_phone' then v_unknown := v_unknown + 1;
                    when 'failed' then v_failed := v_failed + 1;
                    when 'dead_letter' then
                        v_dead := v_dead + 1;
                        v_dead_ids := v_dead_ids || v_row.id;
                    else v_processed := v_processed + 1;
                end case;
            end loop;
        end;
        exit when pg_catalog.cardinality(v_chunk) < v_chunk_size;
    end loop;
    -- Dead letters (a class 22 error goes there at once) are counted in their
    -- alerts once, at the end, as the sweeper does.
    if v_dead > 0 then
        perform private._alert_dead_letters(v_dead_ids);
    end if;
    return pg_catalog.jsonb_build_object(
        'drained', v_drained,
        'processed', v_processed,
        'unknown_phone', v_unknown,
        'failed', v_failed,
        'dead_lettered', v_dead
    );
end
$$;

comment on function private._drain_webhook_batch(integer) is
'Process up to max_count queued deliveries in the caller''s transaction: chunks of 100, a bad row retried alone.';
revoke all on function private._drain_webhook_batch(integer) from public;

-- private._drain_webhooks: the implementation of public.drain_webhooks.
--
-- One batch (private._drain_webhook_batch) in the caller's transaction. A call that
-- drained something is logged in job_runs as webhook_drain; the empty calls of a
-- quiet minute are not. Not exclusive: drains run side by side (SKIP LOCKED). A row
-- that fails is the row's outcome (failed, retried by the sweeper), not a failure
-- of the drain.
create or replace function private._drain_webhooks(max_count integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_summary jsonb;
    v_run bigint;
begin
    -- Platform admins reach it only through public.run_job (no EXECUTE on the public function).
    if not (private._webhooks_backend_caller() or private.is_admin()) then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = 'drain_webhooks is for the service_role backend, pg_cron and run_job';
    end if;
    if _drain_webhooks.max_count is null or _drain_webhooks.max_count not between 1 and 10000 then
        raise exception using
            errcode = '22023',
            message = 'invalid_max_count',
            detail = pg_catalog.format('max_count %s', _drain_webhooks.max_count),
            hint = 'max_count is between 1 and 10000.';
    end if;
    v_summary := private._drain_webhook_batch(_drain_webhooks.max_count);
    if (v_summary ->> 'drained')::integer > 0 then
        v_run := private._job_run_start(
            'webhook_drain', pg_catalog.jsonb_build_object('max_count', _drain_webhooks.max_count), exclusive => false
        );
        perform private._job_run_finish(v_run, v_summary);
        v_summary := v_summary || pg_catalog.jsonb_build_object('job_run_id', v_run);
    end if;
    return v_summary;
end
$$;

comment on function private._drain_webhooks(integer) is
'Implementation of public.drain_webhooks: one batch of queued deliveries, logged in job_runs when it did work.';
revoke all on function private._drain_webhooks(integer) from public;
grant execute on function private._drain_webhooks(integer) to service_role;

-- public.drain_webhooks: process queued webhook deliveries now, one batch.
--
--   select public.drain_webhooks();                  -- up to 1,000 queued rows, oldest first
--   select public.drain_webhooks(max_count => 5000);
--   -> {drained, processed, unknown_phone, failed, dead_lettered, job_run_id (when it drained any)}
--
-- Who: service_role and pg_cron. pg_cron's drain (db/cron/webhook_drain.sql) calls
-- it continuously; a call by hand is the same work (catching up after the job was
-- down, or draining without pg_cron). One transaction: what it drained is committed
-- together, and a call that fails or is cancelled leaves every row queued.
-- Drains run one at a time (a second call waits for the running batch to commit,
-- then takes what is left), and never take a row being replayed. A row whose
-- processing fails is retried by the sweeper with backoff (public.retry_failed_webhooks).
-- Errors: 22023 invalid_max_count (1..10000), 42501 not_allowed.
create or replace function public.drain_webhooks(max_count integer default 1000)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
    return private._drain_webhooks(drain_webhooks.max_count);
end
$$;

comment on function public.drain_webhooks(integer) is
'Process up to max_count queued webhook deliveries, oldest first, in one transaction (service_role, pg_cron).';
revoke all on function public.drain_webhooks(integer) from public;
grant execute on function public.drain_webhooks(integer) to service_role;
