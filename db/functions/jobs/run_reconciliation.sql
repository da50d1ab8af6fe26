-- public.run_reconciliation: compare internal usage with what the providers
-- report, per workspace, metric and UTC day (pg_cron runs it nightly for
-- yesterday; anyone with service_role may run any past period again by hand).
--
--   select public.run_reconciliation(period_start := '2026-11-29', period_end := '2026-11-30');
--   -> {run_id, job_run_id, status, period_start, period_end, matched, mismatched, missing_internal,
--       missing_provider, metrics: [...], unreconciled_metrics: [...], alert_id, errors: [...]}
--
-- The period is [period_start, period_end) in UTC days. Internal usage is the sum
-- of usage_events.quantity by workspace, metric and UTC day of occurred_at, read
-- from the daily usage totals (private.usage_daily_live: folded totals plus the
-- events not folded yet), so a day costs its totals, not its events; the
-- provider side is the sum of provider_usage_reports (every provider) of that day.
-- Each (workspace, metric, day) present on either side is one comparison:
-- * matched: |internal - provider| <= greatest(absolute, relative * greatest(internal, provider))
--   with the metric's reconciliation_tolerances (no row: exact); a provider line of
--   0 and no internal usage match;
-- * mismatched: both sides present, beyond tolerance;
-- * missing_internal: a provider reported a quantity > 0, no usage was recorded;
-- * missing_provider: usage was recorded, no provider reported the day.
-- Missing lines are never excused by a tolerance: they are what reveals an import
-- gap or unmetered usage. Every comparison that is not matched is one
-- reconciliation_items row of the run.
--
-- Internal usage counts only the sources the metric's providers bill for
-- (reconciliation_tolerances.internal_sources; null: every source): Meta's report
-- covers WhatsApp and Messenger messages, not web chat.
--
-- Which metrics: those some provider reported in the period, plus those whose
-- reports are expected every day (reconciliation_tolerances.reports_expected, so a
-- missing import shows as missing_provider). A metric with internal usage and no
-- provider coverage is not compared; it is listed in unreconciled_metrics.
--
-- Each metric is one step in its own sub-transaction: a failing step is undone
-- and recorded in job_runs.errors (status partial, a job_failure alert), its
-- comparisons are left out of the counts, and the other metrics still commit.
-- Alerts are per UTC day: a run raises one reconciliation_mismatch alert for the
-- days with something not matched that no open alert covers yet (details.days,
-- and open_days: the days still not clean), so re-running a period, or a
-- multi-day run over days already alerted, raises no second alert for them. A
-- run without failed steps that finds a day clean takes it off its alert's
-- open_days, and an alert whose days are all clean again resolves ('auto: clean
-- re-run'). A run logs a new run with its counts and items either way.
--
-- Errors (22023, nothing written): period_required (a null date),
-- invalid_period (period_end <= period_start), period_too_long (over 93 days),
-- period_not_ended (period_end after today, UTC: a day is reconciled once over).
-- Who may call: service_role (pg_cron runs it as the database owner).
create or replace function private._run_reconciliation(period_start date, period_end date)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
-- A job's few large statements: JIT compiling them costs more than it saves (seconds on big tables).
set jit = off
as $$
#variable_conflict use_column
declare
    v_max_days constant integer := 93;
    v_start date := _run_reconciliation.period_start;
    v_end date := _run_reconciliation.period_end;
    v_today date := (pg_catalog.now() at time zone 'utc')::date;
    v_job bigint;
    v_run bigint;
    v_metrics text[];
    v_unreconciled text[];
    v_tolerances jsonb;
    v_metric text;
    v_absolute numeric;
    v_relative numeric;
    v_sources text[];
    v_matched integer := 0;
    v_mismatched integer := 0;
    v_missing_internal integer := 0;
    v_missing_provider integer := 0;
    v_step record;
    v_errors jsonb := '[]'::jsonb;
    v_ok integer := 0;
    v_state text;
    v_message text;
    v_alert bigint;
    v_status text;
    v_bad_days date[];
    v_covered date[] := '{}'::date[];
    v_new_days date[];
    v_open record;
    v_open_days date[];
    v_left date[];
    v_result jsonb;
begin
    if v_start is null or v_end is null then
        raise exception using
            errcode = '22023',
            message = 'period_required',
            detail = pg_catalog.format('period_start %s, period_end %s',
                coalesce(v_start::text, 'null'), coalesce(v_end::text, 'null')),
            hint = 'Pass both dates: the period is [period_start, period_end) in UTC days.';
    end if;
    if v_end <= v_start then
        raise exception using
            errcode = '22023',
            message = 'invalid_period',
            detail = pg_catalog.format('period_start %s, period_end %s', v_start, v_end),
            hint = 'period_end is exclusive and must be after period_start (yesterday: [today - 1, today)).';
    end if;
    if v_end - v_start > v_max_days then
        raise exception using
            errcode = '22023',
            message = 'period_too_long',
            detail = pg_catalog.format('%s to %s is %s days', v_start, v_end, v_end - v_start),
            hint = pg_catalog.format('Reconcile at most %s days per run.', v_max_days);
    end if;
    if v_end > v_today then
        raise exception using
            errcode = '22023',
            message = 'period_not_ended',
            detail = pg_catalog.format('period_end %s is after today %s (UTC)', v_end, v_today),
            hint = 'Only whole past UTC days are reconciled; period_end may be today at the latest.';
    end if;


    v_job := private._job_run_start(
        'reconciliation', pg_catalog.jsonb_build_object('period_start', v_start, 'period_end', v_end)
    );

    -- The metrics to compare, and the tolerances applied (recorded with the run).
    select coalesce(pg_catalog.array_agg(m.key order by m.key), '{}')
    into v_metrics
    from public.usage_metrics as m
    where exists (
        select from public.provider_usage_reports as r
        where r.metric = m.key and r.usage_date >= v_start and r.usage_date < v_end
    )
    or exists (
        select from public.reconciliation_tolerances as t
        where t.metric = m.key and t.reports_expected
    );

    select coalesce(pg_catalog.array_agg(u.metric order by u.metric), '{}')
    into v_unreconciled
    from (
        select distinct e.metric
        from private.usage_daily_live as e
        where e.usage_date >= v_start and e.usage_date < v_end
            and e.metric <> all(v_metrics)
    ) as u;

    select coalesce(
        pg_catalog.jsonb_object_agg(
            m.metric,
            pg_catalog.jsonb_build_object(
                'absolute', coalesce(t.absolute_tolerance, 0),
                'relative', coalesce(t.relative_tolerance, 0),
                'reports_expected', coalesce(t.reports_expected, false),
                'internal_sources', pg_catalog.to_jsonb(t.internal_sources)
            )
        ),
        '{}'
    )
    into v_tolerances
    from pg_catalog.unnest(v_metrics) as m (metric)
    left join public.reconciliation_tolerances as t on m.metric = t.metric;

    insert into public.reconciliation_runs (
        job_run_id, period_start, period_end, metrics, unreconciled_metrics, tolerances
    )
    values (v_job, v_start, v_end, v_metrics, v_unreconciled, v_tolerances)
    returning id into v_run;

    foreach v_metric in array v_metrics loop
        v_absolute := (v_tolerances -> v_metric ->> 'absolute')::numeric;
        v_relative := (v_tolerances -> v_metric ->> 'relative')::numeric;
        -- null: usage from every source counts (see reconciliation_tolerances.internal_sources).
        v_sources := case
            when pg_catalog.jsonb_typeof(v_tolerances -> v_metric -> 'internal_sources') = 'array' then
                array(select pg_catalog.jsonb_array_elements_text(v_tolerances -> v_metric -> 'internal_sources'))
        end;
        begin
            with internal as (
                select
                    e.workspace_id,
                    e.usage_date,
                    sum(e.quantity) as quantity
                from private.usage_daily_live as e
                where e.metric = v_metric
                    and e.usage_date >= v_start and e.usage_date < v_end
                    and (v_sources is null or e.source = any(v_sources))
                group by e.workspace_id, e.usage_date
            ),

            provider as (
                select
                    r.workspace_id,
                    r.usage_date,
                    sum(r.quantity) as quantity,
                    pg_catalog.array_agg(distinct r.provider order by r.provider) as providers
                from public.provider_usage_reports as r
                where r.metric = v_metric and r.usage_date >= v_start and r.usage_date < v_end
                group by r.workspace_id, r.usage_date
            ),

            compared as (
                select
                    coalesce(i.workspace_id, p.workspace_id) as workspace_id,
                    coalesce(i.usage_date, p.usage_date) as usage_date,
                    i.quantity as internal_quantity,
                    p.quantity as provider_quantity,
                    coalesce(p.providers, '{}') as providers,
                    case
                        when p.quantity is null then 'missing_provider'
                        when i.quantity is null and p.quantity > 0 then 'missing_internal'
                        when pg_catalog.abs(coalesce(i.quantity, 0) - p.quantity)
                            <= greatest(v_absolute, v_relative * greatest(coalesce(i.quantity, 0), p.quantity))
                            then 'matched'
                        else 'mismatched'
                    end as kind
                from internal as i
                full join provider as p on i.workspace_id = p.workspace_id and i.usage_date = p.usage_date
            ),

            written as (
                insert into public.reconciliation_items (
                    run_id, workspace_id, metric, usage_date, kind, internal_quantity, provider_quantity,
                    difference, providers
                )
                select
                    v_run,
                    c.workspace_id,
                    v_metric,
                    c.usage_date,
                    c.kind,
                    c.internal_quantity,
                    c.provider_quantity,
                    coalesce(c.internal_quantity, 0) - coalesce(c.provider_quantity, 0),
                    c.providers
                from compared as c
                where c.kind <> 'matched'
                order by c.workspace_id, c.usage_date
                returning kind
            )

            select
                (select count(*) from compared as c where c.kind = 'matched')::integer as matched,
                count(*) filter (where w.kind = 'mismatched')::integer as mismatched,
                count(*) filter (where w.kind = 'missing_internal')::integer as missing_internal,
                count(*) filter (where w.kind = 'missing_provider')::integer as missing_provider
            into v_step
            from written as w;

            v_matched := v_matched + v_step.matched;
            v_mismatched := v_mismatched + v_step.mismatched;
            v_missing_internal := v_missing_internal + v_step.missing_internal;
            v_missing_provider := v_missing_provider + v_step.missing_provider;
            v_ok := v_ok + 1;
        exception when others then
            get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
            v_errors := v_errors || private._job_step_error(v_metric, v_state, v_message);
        end;
    end loop;

    -- The days of this run with something not matched.
    select coalesce(pg_catalog.array_agg(distinct i.usage_date order by i.usage_date), '{}')
    into v_bad_days
    from public.reconciliation_items as i
    where i.run_id = v_run;

    -- Open alerts: keep the days still not clean (clean ones only when every step
    -- ran, so a failed metric never passes for clean), resolve those left empty.
    -- Runs never overlap (the job lock), so nobody else edits them meanwhile.
    for v_open in
        select a.id, a.details
        from public.alerts as a
        where a.type = 'reconciliation_mismatch' and a.resolved_at is null
        order by a.id
    loop
        -- An alert without open_days covers its whole period.
        if v_open.details ? 'open_days' then
            v_open_days := array(
                select pg_catalog.jsonb_array_elements_text(v_open.details -> 'open_days')::date
            );
        else
            v_open_days := array(
                select d::date
                from pg_catalog.generate_series(
                    (v_open.details ->> 'period_start')::date,
                    (v_open.details ->> 'period_end')::date - 1,
                    interval '1 day'
                ) as d
            );
        end if;
        if pg_catalog.jsonb_array_length(v_errors) = 0 then
            v_left := array(
                select d from pg_catalog.unnest(v_open_days) as d
                where d < v_start or d >= v_end or d = any(v_bad_days)
                order by d
            );
        else
            v_left := v_open_days;
        end if;
        if pg_catalog.cardinality(v_left) = 0 then
            update public.alerts as a
            set resolved_at = pg_catalog.now(),
                resolution = pg_catalog.format('auto: clean re-run (reconciliation run %s)', v_run),
                details = a.details || pg_catalog.jsonb_build_object('open_days', '[]'::jsonb)
            where a.id = v_open.id;
        elsif v_left is distinct from v_open_days then
            update public.alerts as a
            set details = a.details || pg_catalog.jsonb_build_object('open_days', pg_catalog.to_jsonb(v_left))
            where a.id = v_open.id;
        end if;
        v_covered := v_covered || v_left;
        if v_alert is null and v_left && v_bad_days then
            v_alert := v_open.id;
        end if;
    end loop;

    v_new_days := array(select d from pg_catalog.unnest(v_bad_days) as d where d <> all(v_covered) order by d);
    if pg_catalog.cardinality(v_new_days) > 0 then
        v_alert := private.raise_alert(
            'reconciliation_mismatch',
            pg_catalog.format('reconciliation_mismatch:run:%s', v_run),
            pg_catalog.format(
                'reconciliation %s to %s (run %s): %s mismatched, %s missing internally, %s missing at the provider; '
                || 'days %s',
                v_start, v_end, v_run, v_mismatched, v_missing_internal, v_missing_provider,
                pg_catalog.array_to_string(v_new_days, ', ')
            ),
            null,
            'warning',
            pg_catalog.jsonb_build_object(
                'run_id', v_run,
                'job_run_id', v_job,
                'period_start', v_start,
                'period_end', v_end,
                'mismatched', v_mismatched,
                'missing_internal', v_missing_internal,
                'missing_provider', v_missing_provider,
                'days', pg_catalog.to_jsonb(v_new_days),
                'open_days', pg_catalog.to_jsonb(v_new_days)
            )
        );
    end if;

    v_result := pg_catalog.jsonb_build_object(
        'run_id', v_run,
        'job_run_id', v_job,
        'period_start', v_start,
        'period_end', v_end,
        'matched', v_matched,
        'mismatched', v_mismatched,
        'missing_internal', v_missing_internal,
        'missing_provider', v_missing_provider,
        'metrics', pg_catalog.to_jsonb(v_metrics),
        'unreconciled_metrics', pg_catalog.to_jsonb(v_unreconciled),
        'alert_id', v_alert,
        'errors', v_errors
    );
    v_status := private._job_run_finish(v_job, v_result, v_errors, v_ok);

    update public.reconciliation_runs as rr
    set status = v_status,
        matched = v_matched,
        mismatched = v_mismatched,
        missing_internal = v_missing_internal,
        missing_provider = v_missing_provider,
        alert_id = v_alert,
        finished_at = pg_catalog.clock_timestamp()
    where rr.id = v_run;

    return v_result || pg_catalog.jsonb_build_object('status', v_status);
end
$$;

comment on function private._run_reconciliation(date, date) is
'Implementation of public.run_reconciliation (definer: compares usage_events with provider_usage_reports, '
'writes the run''s report, raises the period''s reconciliation_mismatch alert).';
revoke all on function private._run_reconciliation(date, date) from public;
grant execute on function private._run_reconciliation(date, date) to service_role;

create or replace function public.run_reconciliation(period_start date, period_end date)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return private._run_reconciliation(run_reconciliation.period_start, run_reconciliation.period_end);
end
$$;

comment on function public.run_reconciliation(date, date) is
'Reconcile internal usage with provider usage reports over [period_start, period_end) (UTC days): counts of '
'matched, mismatched beyond tolerance and missing on either side, items in reconciliation_items, one '
'reconciliation_mismatch alert per period; logged in job_runs. service_role; pg_cron runs it nightly.';
revoke all on function public.run_reconciliation(date, date) from public;
grant execute on function public.run_reconciliation(date, date) to service_role;

-- provider_usage_reports: a re-import (upsert) keeps the first imported_at and
-- stamps updated_at, whatever columns the backend sends.
create or replace function private.tg_provider_usage_reports__stamp()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.imported_at := old.imported_at;
    new.updated_at := pg_catalog.now();
    return new;
end
$$;

comment on function private.tg_provider_usage_reports__stamp() is
'BEFORE UPDATE trigger of provider_usage_reports: keeps imported_at, sets updated_at to now().';
revoke all on function private.tg_provider_usage_reports__stamp() from public;

create or replace trigger tg_provider_usage_reports__stamp before update on public.provider_usage_reports
for each row execute function private.tg_provider_usage_reports__stamp();
