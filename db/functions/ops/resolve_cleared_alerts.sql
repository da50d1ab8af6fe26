-- private.resolve_cleared_alerts: resolve the open alerts whose condition has
-- cleared, for the conditions only time or other work can clear. pg_cron runs
-- it every minute (db/cron/alerts_auto_resolve.sql); by hand:
--
--   select private.resolve_cleared_alerts();
--   -> {resolved, by_type: {type: n}, job_run_id (when it resolved any)}
--
-- Which alerts, and when they clear:
-- * usage_warning / usage_blocked: their billing period has ended.
-- * webhook_failure (dead letters): no delivery of the alert's provider and error
--   is left in dead_letter (replayed, or expired by retention).
-- * api_auth_failures: fewer than 10 failed API key authentications in the last
--   5 minutes (half the raising threshold, so a rate around it does not flap).
-- * signature_failure: no delivery of the provider rejected for its signature in
--   the last 15 minutes.
-- * retention_backlog: the latest retention run left nothing for later.
-- * rate_limit_spike: the workspace's requests in the alert's bucket have not been
--   refused for 5 whole minutes (no private.rate_limit_refusals row of the last
--   five minutes, nor of the current one): the spike is over, and a later one
--   raises a new alert.
-- Other alerts clear where their condition is decided: job_failure when the job
-- next succeeds (private.job_run_finish), credits_exhausted on a grant that
-- restores the balance, usage alerts on an upgrade (private.on_plan_change),
-- reconciliation_mismatch on a clean re-run. The rest (payments, a failed rate
-- limiter) wait for a platform admin (public.resolve_alert).
-- A run that resolved something is logged in job_runs. Idempotent.
create or replace function private.resolve_cleared_alerts()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_period date := private.usage_period();
    v_by_type jsonb := '{}'::jsonb;
    v_rows integer;
    v_total integer := 0;
    v_run bigint;
    v_result jsonb;
begin
    update public.alerts as a
    set resolved_at = pg_catalog.now(),
        resolution = pg_catalog.format('auto: billing period %s ended', a.details ->> 'period_start')
    where a.type in ('usage_warning', 'usage_blocked')
        and a.resolved_at is null
        and (a.details ->> 'period_start')::date < v_period;
    get diagnostics v_rows = row_count;
    v_by_type := v_by_type || pg_catalog.jsonb_build_object('usage', v_rows);
    v_total := v_total + v_rows;

    update public.alerts as a
    set resolved_at = pg_catalog.now(),
        resolution = 'auto: no dead letters of this provider and error are left (replayed or expired)'
    where a.type = 'webhook_failure'
        and a.resolved_at is null
        and not exists (
            select
            from public.webhook_queue as q
            where q.status = 'dead_letter'
                and (
                    (
                        a.details ? 'error'
                        and q.provider = a.details ->> 'provider'
                        and private.webhook_error_key(q.last_error) = a.details ->> 'error'
                    )
                    or (not a.details ? 'error' and q.id = (a.details ->> 'webhook_id')::bigint)
                )
        );
    get diagnostics v_rows = row_count;
    v_by_type := v_by_type || pg_catalog.jsonb_build_object('webhook_failure', v_rows);
    v_total := v_total + v_rows;

    update public.alerts as a
    set resolved_at = pg_catalog.now(),
        resolution = 'auto: fewer than 10 failed API key authentications in the last 5 minutes'
    where a.type = 'api_auth_failures'
        and a.resolved_at is null
        and (
            select pg_catalog.count(*)
            from public.external_api_audit_logs as l
            where l.occurred_at > pg_catalog.now() - interval '5 minutes'
        ) < 10;
    get diagnostics v_rows = row_count;
    v_by_type := v_by_type || pg_catalog.jsonb_build_object('api_auth_failures', v_rows);
    v_total := v_total + v_rows;

    update public.alerts as a
    set resolved_at = pg_catalog.now(),
        resolution = 'auto: no signature failures from this provider in the last 15 minutes'
    where a.type = 'signature_failure'
        and a.resolved_at is null
        and a.created_at <= pg_catalog.now() - interval '15 minutes'
        and not exists (
            select
            from public.webhook_queue as q
            where q.status = 'rejected'
                and q.received_at > pg_catalog.now() - interval '15 minutes'
                and q.signature_valid = false
                and q.provider = a.details ->> 'provider'
        );
    get diagnostics v_rows = row_count;
    v_by_type := v_by_type || pg_catalog.jsonb_build_object('signature_failure', v_rows);
    v_total := v_total + v_rows;

    update public.alerts as a
    set resolved_at = pg_catalog.now(),
        resolution = pg_catalog.format('auto: retention run %s left nothing for later', r.id)
    from (
        select j.id, j.result
        from public.job_runs as j
        where j.job_name = 'retention_cleanup' and j.status <> 'running'
        order by j.started_at desc
        limit 1
    ) as r
    where a.type = 'retention_backlog'
        and a.resolved_at is null
        and coalesce(pg_catalog.jsonb_array_length(r.result -> 'more'), 0) = 0
        and r.id > coalesce((a.details ->> 'job_run_id')::bigint, 0);
    get diagnostics v_rows = row_count;
    v_by_type := v_by_type || pg_catalog.jsonb_build_object('retention_backlog', v_rows);
    v_total := v_total + v_rows;

    update public.alerts as a
    set resolved_at = pg_catalog.now(),
        resolution = pg_catalog.format(
            'auto: no request of bucket %s refused for 5 minutes', a.details ->> 'bucket'
        )
    where a.type = 'rate_limit_spike'
        and a.resolved_at is null
        and not exists (
            select
            from private.rate_limit_refusals as r
            where r.workspace_id = a.workspace_id
                and r.bucket = a.details ->> 'bucket'
                and r.minute >= pg_catalog.date_trunc('minute', pg_catalog.now(), 'UTC') - interval '5 minutes'
        );
    get diagnostics v_rows = row_count;
    v_by_type := v_by_type || pg_catalog.jsonb_build_object('rate_limit_spike', v_rows);
    v_total := v_total + v_rows;

    v_result := pg_catalog.jsonb_build_object('resolved', v_total, 'by_type', v_by_type);
    if v_total > 0 then
        v_run := private.job_run_start('alerts_auto_resolve', exclusive => false);
        perform private.job_run_finish(v_run, v_result);
        v_result := v_result || pg_catalog.jsonb_build_object('job_run_id', v_run);
    end if;
    return v_result;
end
$$;

comment on function private.resolve_cleared_alerts() is
'Resolve open alerts whose condition has cleared (past usage periods, dead letters gone, auth-failure and '
'signature-failure and 429 spikes over, retention caught up); pg_cron runs it every minute.';
revoke all on function private.resolve_cleared_alerts() from public;
grant execute on function private.resolve_cleared_alerts() to service_role;
