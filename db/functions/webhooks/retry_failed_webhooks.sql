-- private._retry_failed_webhooks: the implementation of public.retry_failed_webhooks.
--
-- Takes up to max_count failed deliveries whose next attempt is due, oldest due
-- first, locking them FOR UPDATE SKIP LOCKED (private._claim_webhooks, which the
-- drain claims through too): two sweepers running at once each take different
-- rows, and a row being replayed is left alone. Each row gets one
-- attempt through private._run_webhook (backoff, dead letter and its alert are
-- decided there). Rows whose signature could not be checked on arrival are
-- verified first: a forged one is rejected, a genuine one claims its key, or is
-- counted as a duplicate when a verified copy holds the key already. The rows it
-- dead-letters are counted in their alerts once, at the end, in key order
-- (private._alert_dead_letters), so two sweepers never wait on each other's alerts
-- in opposite orders.
-- Callers: service_role, pg_cron (db/cron/webhook_retry_sweeper.sql).
-- lock_timeout 2s whoever calls (pg_cron's session has none): a row stuck behind
-- another transaction's lock fails this attempt (55P03, backoff) instead of
-- stalling the sweep and every lock it already holds.
create or replace function private._retry_failed_webhooks(max_count integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
set lock_timeout = '2s'
as $$
declare
    v_row record;
    v_result jsonb;
    v_retried integer := 0;
    v_succeeded integer := 0;
    v_dead integer := 0;
    v_failed integer := 0;
    v_claimed integer;
    v_rejected integer := 0;
    v_duplicate integer := 0;
    v_summary jsonb;
    v_run bigint;
    v_dead_ids bigint[] := '{}'::bigint[];
begin
    -- Platform admins reach it only through public.run_job (no EXECUTE on the public function).
    if not (private._webhooks_backend_caller() or private.is_admin()) then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = 'retry_failed_webhooks is for the service_role backend, pg_cron and run_job';
    end if;
    if _retry_failed_webhooks.max_count is null or _retry_failed_webhooks.max_count not between 1 and 10000 then
        raise exception using
            errcode = '22023',
            message = 'invalid_max_count',
            detail = pg_catalog.format('max_count %s', _retry_failed_webhooks.max_count),
            hint = 'max_count is between 1 and 10000.';
    end if;

    -- Shared with other sweepers, exclusive of the drain (private._drain_webhook_batch):
    -- a sweep and a drain each lock many workspaces' period totals until they commit.
    perform pg_catalog.pg_advisory_xact_lock_shared(4242, pg_catalog.hashtext('webhook_drain'));
    -- Claimed ten at a time, so a second sweeper running meanwhile takes the rows
    -- this one has not reached yet instead of waiting for the next minute.
    loop
        v_claimed := 0;
        for v_row in
            select q.id, q.provider, q.event_type, q.payload, q.status, q.signature_valid, q.headers, q.raw_body, q.url
            from private._claim_webhooks('failed', least(10, _retry_failed_webhooks.max_count - v_retried)) as q
        loop
            v_claimed := v_claimed + 1;
            v_retried := v_retried + 1;
            v_result := private._run_webhook(
                v_row.id, v_row.provider, v_row.event_type, v_row.payload, v_row.status,
                v_row.signature_valid is not true, v_row.headers, v_row.raw_body, v_row.url,
                alert_dead_letter => false
            );
            case v_result ->> 'status'
                when 'processed', 'unknown_phone' then v_succeeded := v_succeeded + 1;
                when 'dead_letter' then
                    v_dead := v_dead + 1;
                    v_dead_ids := v_dead_ids || v_row.id;
                when 'rejected' then v_rejected := v_rejected + 1;
                when 'duplicate' then v_duplicate := v_duplicate + 1;
                else v_failed := v_failed + 1;
            end case;
        end loop;
        exit when v_claimed < 10 or v_retried >= _retry_failed_webhooks.max_count;
    end loop;
    if v_dead > 0 then
        perform private._alert_dead_letters(v_dead_ids);
    end if;

    v_summary := pg_catalog.jsonb_build_object(
        'retried', v_retried,
        'succeeded', v_succeeded,
        'dead_lettered', v_dead,
        'failed', v_failed,
        'rejected', v_rejected,
        'duplicate', v_duplicate
    );
    -- A sweep that retried something is logged in job_runs; the empty sweeps of a
    -- quiet minute are not (pg_cron's own history has every run), so the log
    -- shows the sweeps that did work. Not exclusive: sweepers run side by side.
    -- A retry that fails again is the row's outcome (failed, or dead_letter with
    -- its alert), not a failure of the sweep.
    if v_retried > 0 then
        v_run := private._job_run_start(
            'webhook_retry_sweeper', pg_catalog.jsonb_build_object('max_count', _retry_failed_webhooks.max_count),
            exclusive => false
        );
        perform private._job_run_finish(v_run, v_summary);
        v_summary := v_summary || pg_catalog.jsonb_build_object('job_run_id', v_run);
    end if;
    return v_summary;
end
$$;

comment on function private._retry_failed_webhooks(integer) is
'Implementation of public.retry_failed_webhooks: one attempt for each due failed delivery, SKIP LOCKED.';
revoke all on function private._retry_failed_webhooks(integer) from public;
grant execute on function private._retry_failed_webhooks(integer) to service_role;

-- public.retry_failed_webhooks: the retry sweeper (pg_cron runs it every minute).
--
--   select public.retry_failed_webhooks();          -- up to 100 due rows
--   select public.retry_failed_webhooks(max_count => 500);
--   -> {retried, succeeded, dead_lettered, failed, rejected, duplicate, job_run_id (when it retried any)}
--
-- Who: service_role and pg_cron. Failed deliveries are retried with exponential
-- backoff (1, 2, 4, 8, 16 minutes by default); after the last attempt, or at
-- once for a permanent (class 22) error, a row moves to dead_letter and is
-- counted in the one open webhook_failure alert of its provider and error.
-- Concurrent sweepers never take the same row (FOR UPDATE SKIP LOCKED).
create or replace function public.retry_failed_webhooks(max_count integer default 100)
returns jsonb
language sql
volatile
set search_path = ''
as $$
    select private._retry_failed_webhooks(retry_failed_webhooks.max_count)
$$;

comment on function public.retry_failed_webhooks(integer) is
'Retry due failed webhook deliveries with backoff; dead-letter after the last attempt (service_role, pg_cron).';
revoke all on function public.retry_failed_webhooks(integer) from public;
grant execute on function public.retry_failed_webhooks(integer) to service_role;
