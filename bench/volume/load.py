"""Load a production-sized history into a migrated database, set-based.

One ``Volume`` is the modelled production 1x (1,000 workspaces, 5M usage events, 2M webhook
deliveries with 1.5M normalized events, 1M messages, 200k audit rows, 500k ledger
entries) over ``days`` of history ending now; ``Volume.at(3)`` is three times the
history at the same daily rates, for the same workspaces. So "the same period"
(yesterday, this month, last week) holds the same work at every size, and only
the history behind it grows.

How it stays under ten minutes: every row is generated in SQL (generate_series),
in time order as production writes it; triggers and foreign-key checks are off
for the session (``session_replication_role = replica``: the rows are consistent
by construction); the large tables lose their indexes for the load and get them
back afterwards in one sorted build each; the server runs with ``wal_level =
minimal``, so a table truncated and filled in one transaction writes no WAL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import psycopg

# Tables loaded with their indexes dropped and rebuilt afterwards.
BIG_TABLES = (
    "usage_events",
    "webhook_queue",
    "sms_events",
    "call_events",
    "messages",
    "audit_logs",
    "wallet_ledger",
)


@dataclass(frozen=True)
class Volume:
    """Row counts and the days of history they span."""

    workspaces: int = 1000
    usage_events: int = 5_000_000
    webhook_queue: int = 2_000_000
    normalized_events: int = 1_500_000  # sms_events + call_events
    messages: int = 1_000_000
    audit_logs: int = 200_000
    wallet_ledger: int = 500_000
    alerts_per_day: int = 50
    days: int = 90

    def at(self, factor: int) -> Volume:
        """``factor`` times the history at the same daily rates, same workspaces."""
        return replace(
            self,
            usage_events=self.usage_events * factor,
            webhook_queue=self.webhook_queue * factor,
            normalized_events=self.normalized_events * factor,
            messages=self.messages * factor,
            audit_logs=self.audit_logs * factor,
            wallet_ledger=self.wallet_ledger * factor,
            days=self.days * factor,
        )

    def scaled(self, fraction: float) -> Volume:
        """The same shape with fewer rows (smoke tests): every count times ``fraction``."""

        def n(x: int) -> int:
            return max(10, int(x * fraction))

        return replace(
            self,
            workspaces=n(self.workspaces),
            usage_events=n(self.usage_events),
            webhook_queue=n(self.webhook_queue),
            normalized_events=n(self.normalized_events),
            messages=n(self.messages),
            audit_logs=n(self.audit_logs),
            wallet_ledger=n(self.wallet_ledger),
        )


@dataclass
class LoadReport:
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


# Deterministic ids from numbers: no lookups while generating millions of rows.
def _uuid(prefix: str, n: str) -> str:
    return f"('{prefix}-' || lpad(({n})::text, 12, '0'))::uuid"


def ws(n: str) -> str:
    return _uuid("00000000-0000-4000-8000", n)


def owner(n: str) -> str:
    return _uuid("00000000-0000-4000-9000", n)


def member(n: str) -> str:
    return _uuid("00000000-0000-4000-a000", n)


def agent(n: str) -> str:
    return _uuid("00000000-0000-4001-8000", n)


def channel(n: str) -> str:
    return _uuid("00000000-0000-4002-8000", n)


def conversation(n: str) -> str:
    return _uuid("00000000-0000-4003-8000", n)


def number(n: str) -> str:
    """The workspace's agent's phone number (E.164)."""
    return f"('+1555' || lpad(({n})::text, 7, '0'))"


# The workspace of the g-th row of a table: a hash, so a workspace's rows have every status and metric.
def spread(g: str, workspaces: int) -> str:
    return f"(1 + (pg_catalog.hashint8(({g})::bigint)::bigint & 2147483647) % {workspaces})"


# The history starts on the hour, so hour buckets (and so months) of row times are whole UTC hours.
BASE = "date_trunc('hour', now())"


def time_of(g: str, rows: int, days: int) -> str:
    """Row g of ``rows`` spread evenly over the last ``days`` days, oldest first."""
    return f"({BASE} - interval '{days} days' + (({g}) - 1) * (interval '{days} days' / {rows}))"


def hour_of(g: str, rows: int, days: int) -> str:
    """The hour (0-based, from the start of the history) that row g of ``rows`` falls in."""
    return f"((({g}) - 1)::bigint * {days * 24} / {rows})"


def keys(workspaces: int) -> str:
    """A one-row CTE body of arrays indexed by workspace number: ids, agents, numbers."""
    return f"""select array_agg({ws('g')} order by g) as ws, array_agg({agent('g')} order by g) as agent,
            array_agg({number('g')} order by g) as num
        from generate_series(1, {workspaces}) as g"""


def _step(conn: psycopg.Connection, report: LoadReport, name: str, *statements: str) -> None:
    started = time.perf_counter()
    with conn.transaction():
        for statement in statements:
            conn.execute(statement.encode())
    report.steps[name] = round(time.perf_counter() - started, 2)


def _indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, str, str | None]]:
    """(name, definition, constraint definition or None) of every index of a table."""
    rows = conn.execute(
        """
        select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
            (select pg_get_constraintdef(c.oid) from pg_constraint as c where c.conindid = i.indexrelid)
        from pg_index as i
        where i.indrelid = %s::regclass
        order by 1
        """,
        (f"public.{table}",),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _drop_indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, str, str | None]]:
    found = _indexes(conn, table)
    for name, _definition, constraint in found:
        bare = name.split(".")[-1]
        if constraint is not None:
            conn.execute(f"alter table public.{table} drop constraint {bare}".encode())
        else:
            conn.execute(f"drop index {name}".encode())
    return found


def _rebuild_indexes(conn: psycopg.Connection, table: str, found: list[tuple[str, str, str | None]]) -> None:
    for name, definition, constraint in found:
        bare = name.split(".")[-1]
        if constraint is not None:
            conn.execute(f"alter table public.{table} add constraint {bare} {constraint}".encode())
        else:
            conn.execute(definition.encode())


def load(conn: psycopg.Connection, volume: Volume, out: Callable[[str], None] = print) -> LoadReport:
    """Fill a freshly migrated database (autocommit superuser connection) with ``volume``."""
    report = LoadReport()
    started = time.perf_counter()
    conn.execute("set session_replication_role = replica")
    conn.execute("set maintenance_work_mem = '1GB'")
    conn.execute("set max_parallel_maintenance_workers = 2")
    conn.execute("set synchronous_commit = off")
    w, days = volume.workspaces, volume.days
    first_month = f"date_trunc('month', now() at time zone 'UTC' - interval '{days} days')::date"
    # Months from the first month of the history to the current one.
    months = (
        "((extract(year from now() at time zone 'UTC') * 12 + extract(month from now() at time zone 'UTC'))"
        f" - (extract(year from {first_month}) * 12 + extract(month from {first_month})))::int"
    )

    _step(
        conn,
        report,
        "tenancy",
        f"""insert into auth.users (id, email)
            select {owner('g')}, 'owner-' || g || '@volume.test' from generate_series(1, {w}) as g
            union all
            select {member('g')}, 'member-' || g || '@volume.test' from generate_series(1, {w}) as g""",
        f"""insert into public.workspaces (id, name, owner_id, plan_key, created_at)
            select {ws('g')}, 'volume ' || g, {owner('g')}, 'business', now() - interval '{days + 1} days'
            from generate_series(1, {w}) as g""",
        f"""insert into public.workspace_users (workspace_id, user_id, role)
            select {ws('g')}, {owner('g')}, 'owner' from generate_series(1, {w}) as g
            union all
            select {ws('g')}, {member('g')}, 'member' from generate_series(1, {w}) as g""",
        f"""insert into public.workspace_wallets (workspace_id, balance)
            select {ws('g')}, 1000000000 from generate_series(1, {w}) as g""",
        f"""insert into public.agents (id, workspace_id, user_id, agent_id, phone_number, provider,
                provider_number_id, status, is_active)
            select {agent('g')}, {ws('g')}, {owner('g')}, 'volume_agent_' || g, {number('g')}, 'twilio', 'PN' || g,
                'active', true
            from generate_series(1, {w}) as g""",
        f"""insert into public.agent_channels (id, workspace_id, agent_id, channel_type, external_id)
            select {channel('g')}, {ws('g')}, {agent('g')}, 'whatsapp', 'wa' || g from generate_series(1, {w}) as g
            union all
            select {channel('g + 5000000')}, {ws('g')}, {agent('g')}, 'sms', null from generate_series(1, {w}) as g""",
        f"""insert into public.conversations (id, workspace_id, agent_id, channel_type, external_thread_id,
                contact_address, started_at, last_message_at)
            select {conversation('g * 10 + c')}, {ws('g')}, {agent('g')}, 'webchat', 'thread-' || g || '-' || c,
                'visitor ' || c, now() - interval '{days} days', now()
            from generate_series(1, {w}) as g, generate_series(0, 4) as c""",
        # One tier snapshot per workspace and month: id = month index * workspaces + workspace number.
        f"""insert into public.tier_snapshots (id, workspace_id, period_start, plan_key, currency, limits, reason,
                effective_from)
            overriding system value
            select m * {w} + g, {ws('g')}, ({first_month} + make_interval(months => m))::date, 'business', 'EGP',
                (select jsonb_object_agg(pl.metric, jsonb_build_object('soft_limit', pl.soft_limit * 1000,
                    'hard_limit', pl.hard_limit * 1000, 'unit_price_minor', pl.unit_price_minor))
                 from public.plan_limits as pl where pl.plan_key = 'business'),
                'period_start', ({first_month} + make_interval(months => m))::timestamp at time zone 'UTC'
            from generate_series(1, {w}) as g,
                generate_series(0, {months}) as m""",
        "select setval('public.tier_snapshots_id_seq', (select max(id) from public.tier_snapshots))",
    )
    out(f"  tenancy: {report.steps['tenancy']} s")

    dropped = {table: _drop_indexes(conn, table) for table in BIG_TABLES}

    n = volume.usage_events
    _step(
        conn,
        report,
        "usage_events",
        "truncate public.usage_events",
        f"""insert into public.usage_events (id, workspace_id, metric, quantity, period_start, tier_snapshot_id,
                source, idempotency_key, occurred_at)
            overriding system value
            with k as materialized ({keys(w)}),
            hours as materialized (
                -- Per hour of the history: its billing period and that period's tier snapshot number.
                select array_agg(date_trunc('month', ({BASE} - interval '{days} days' + h * interval '1 hour')
                        at time zone 'UTC')::date order by h) as period,
                    array_agg(((extract(year from ({BASE} - interval '{days} days' + h * interval '1 hour') at time zone 'UTC') * 12
                        + extract(month from ({BASE} - interval '{days} days' + h * interval '1 hour') at time zone 'UTC'))
                        - (extract(year from {first_month}) * 12 + extract(month from {first_month})))::bigint
                        order by h) as month
                from generate_series(0, {days * 24 - 1}) as h
            )
            select s.g, k.ws[s.w], (array['sms', 'call_minutes', 'messages', 'llm_tokens'])[1 + s.g % 4],
                case s.g % 4 when 1 then 1 + s.g % 5 when 3 then 100 + s.g % 1900 else 1 end,
                hours.period[s.h + 1],
                hours.month[s.h + 1] * {w} + s.w,
                (array['twilio', 'twilio', 'meta', 'openai'])[1 + s.g % 4],
                'evt:' || s.g,
                s.at
            from (
                select g, {spread('g', w)} as w, {time_of('g', n, days)} as at, {hour_of('g', n, days)} as h
                from generate_series(1, {n}) as g
            ) as s, k, hours""",
        "select setval('public.usage_events_id_seq', (select max(id) from public.usage_events))",
    )
    out(f"  usage_events: {report.steps['usage_events']} s")

    q = volume.webhook_queue
    _step(
        conn,
        report,
        "webhook_queue",
        "truncate public.webhook_queue",
        # 75% processed (the normalized events), 20% duplicates, 1% rejected, 2% unknown numbers,
        # 2% failed (the last day's) or dead letters; 85% Twilio (SMS and calls), 15% Meta.
        f"""insert into public.webhook_queue (id, provider, event_type, idempotency_key, status, headers, payload,
                url, received_at, signature_valid, attempts, processed_at, last_error)
            overriding system value
            -- Each workspace's deliveries as its providers post them (the bytes, numbers and channel ids
            -- that retention, attribution and the staff lists read); built once per workspace, not per row.
            with p as materialized (
                select
                    array_agg(jsonb_build_object('MessageSid', 'SM' || md5(g::text), 'SmsStatus', 'delivered',
                        'To', {number('g')}, 'From', '+14445550100',
                        'AccountSid', 'AC4f2b9c0e1d3a5b7c9e0f1a2b3c4d5e6f', 'ApiVersion', '2010-04-01',
                        'NumSegments', '1', 'Body', 'Thanks, see you on Friday at 5pm.') order by g) as twilio,
                    array_agg(jsonb_build_object('object', 'whatsapp_business_account', 'entry', jsonb_build_array(
                        jsonb_build_object('id', 'waba' || g, 'changes', jsonb_build_array(jsonb_build_object(
                            'field', 'messages', 'value', jsonb_build_object(
                                'metadata', jsonb_build_object('phone_number_id', 'wa' || g),
                                'messages', jsonb_build_array(jsonb_build_object('id', 'wamid.' || md5(g::text),
                                    'type', 'text', 'text', jsonb_build_object('body', 'Hello there')))))))))
                        order by g) as meta,
                    array_agg(jsonb_build_object('x-twilio-signature', md5(g::text)) order by g) as headers
                from generate_series(1, {w}) as g
            )
            select s.g,
                case when s.twilio then 'twilio' else 'meta' end,
                case when s.g % 20 < 14 then 'twilio.sms' when s.twilio then 'twilio.voice' else 'meta.whatsapp' end,
                case when s.twilio then 'sms:SM' else 'meta:wamid.' end
                    || md5((case when s.status = 'duplicate' then s.g - 1 else s.g end)::text) || ':delivered',
                s.status,
                p.headers[s.w],
                case when s.twilio then p.twilio[s.w] else p.meta[s.w] end,
                case when s.twilio then 'https://api.example.test/webhooks/twilio/sms'
                    else 'https://api.example.test/webhooks/meta' end,
                s.at,
                s.status <> 'rejected',
                case when s.status in ('failed', 'dead_letter') then 3 else 1 end,
                case when s.status in ('processed', 'duplicate', 'unknown_phone') then s.at end,
                case when s.status in ('failed', 'dead_letter', 'rejected') then 'probe failure' end
            from (
                select g, {spread('g', w)} as w, {time_of('g', q, days)} as at, g % 20 < 17 as twilio,
                    -- A failure is retried for hours, then dead-lettered: only the last day's are still failed.
                    case when g % 100 < 75 then 'processed' when g % 100 < 95 then 'duplicate'
                        when g % 100 = 95 then 'rejected' when g % 100 < 98 then 'unknown_phone'
                        when g % 100 = 98 and g > {q} - {q} / {days} then 'failed' else 'dead_letter' end as status
                from generate_series(1, {q}) as g
            ) as s, p""",
        "select setval('public.webhook_queue_id_seq', (select max(id) from public.webhook_queue))",
    )
    out(f"  webhook_queue: {report.steps['webhook_queue']} s")

    sms = volume.normalized_events * 4 // 5
    calls = volume.normalized_events - sms
    t_sms, t_calls = time_of("g", sms, days), time_of("g", calls, days)
    _step(
        conn,
        report,
        "normalized_events",
        "truncate public.sms_events, public.call_events",
        f"""insert into public.sms_events (workspace_id, agent_id, webhook_id, message_sid, sms_status, direction,
                from_number, to_number, body, num_segments, num_media, occurred_at, created_at)
            with k as materialized ({keys(w)})
            select k.ws[s.w], k.agent[s.w], g, 'SM' || md5(g::text), s.status,
                case when s.status = 'received' then 'inbound' else 'outbound' end,
                '+1444' || lpad((g % 9999999)::text, 7, '0'), k.num[s.w], 'Thanks, see you on Friday.', 1, 0,
                s.at, s.at
            from k, (
                select g, {spread('g', w)} as w, {t_sms} as at,
                    case when g % 100 < 40 then 'received' when g % 100 < 70 then 'sent' when g % 100 < 95 then 'delivered'
                        when g % 100 < 98 then 'failed' else 'undelivered' end as status
                from generate_series(1, {sms}) as g
            ) as s""",
        f"""insert into public.call_events (workspace_id, agent_id, webhook_id, call_sid, call_status, direction,
                from_number, to_number, duration_seconds, billable_minutes, occurred_at, created_at)
            with k as materialized ({keys(w)})
            select k.ws[s.w], k.agent[s.w], g, 'CA' || md5(g::text), s.status, 'inbound',
                '+1444' || lpad((g % 9999999)::text, 7, '0'), k.num[s.w],
                case when s.status = 'completed' then 30 + g % 600 end,
                case when s.status = 'completed' then 1 + g % 10 end,
                s.at, s.at
            from k, (
                select g, {spread('g', w)} as w, {t_calls} as at,
                    case when g % 10 < 7 then 'completed' when g % 10 = 7 then 'busy' when g % 10 = 8 then 'no-answer'
                        else 'failed' end as status
                from generate_series(1, {calls}) as g
            ) as s""",
    )
    out(f"  sms_events + call_events: {report.steps['normalized_events']} s")

    m = volume.messages
    t = time_of("g", m, days)
    _step(
        conn,
        report,
        "messages",
        "truncate public.messages",
        f"""insert into public.messages (workspace_id, conversation_id, direction, sender, body, provider,
                provider_message_id, sent_at, created_at)
            with k as materialized ({keys(w)}),
            c as materialized (
                select array_agg({conversation('g * 10 + c')} order by g, c) as ids
                from generate_series(1, {w}) as g, generate_series(0, 4) as c
            )
            select k.ws[s.w], c.ids[(s.w - 1) * 5 + 1 + g % 5],
                case when g % 2 = 0 then 'inbound' else 'outbound' end,
                case when g % 2 = 0 then 'Visitor ' || g % 97 else 'Agent' end,
                'Hello, I would like to know the opening hours for Friday please.',
                'webchat', null, s.at, s.at
            from (select g, {spread('g', w)} as w, {t} as at from generate_series(1, {m}) as g) as s, k, c""",
    )
    out(f"  messages: {report.steps['messages']} s")

    a = volume.audit_logs
    ledger = volume.wallet_ledger
    _step(
        conn,
        report,
        "audit_and_ledger",
        "truncate public.audit_logs, public.wallet_ledger",
        f"""insert into public.audit_logs (occurred_at, actor_id, actor_role, action, target_table, target_id,
                workspace_id, reason, before, after)
            select s.at, {owner('s.w')}, 'authenticated', 'update', 'agents', {agent('s.w')}::text,
                case when g % 10 = 0 then null else {ws('s.w')} end, 'volume',
                jsonb_build_object('nickname', 'before ' || g), jsonb_build_object('nickname', 'after ' || g)
            from (select g, {spread('g', w)} as w, {time_of('g', a, days)} as at from generate_series(1, {a}) as g) as s""",
        f"""insert into public.wallet_ledger (workspace_id, kind, amount, balance_after, reason, actor_role, created_at)
            select {ws('s.w')}, case when g % 10 = 0 then 'grant' else 'deduct' end,
                case when g % 10 = 0 then 100 else -1 end, 1000000000 - g % 1000, 'volume', 'service_role', s.at
            from (
                select g, {spread('g', w)} as w, {time_of('g', ledger, days)} as at
                from generate_series(1, {ledger}) as g
            ) as s""",
    )
    out(f"  audit_logs + wallet_ledger: {report.steps['audit_and_ledger']} s")

    alerts = volume.alerts_per_day * days
    _step(
        conn,
        report,
        "small_tables",
        f"""insert into public.alerts (type, severity, workspace_id, dedupe_key, message, created_at, acknowledged_at)
            select 'usage_warning', 'warning', case when g % 7 = 0 then null else {ws(spread('g', w))} end,
                'volume:' || g, 'volume alert ' || g, s.at, case when g % 3 = 0 then s.at + interval '1 hour' end
            from (select g, {time_of('g', alerts, days)} as at from generate_series(1, {alerts}) as g) as s""",
        f"""insert into public.unknown_phone (provider, channel_type, phone_number, first_seen_at, last_seen_at, seen_count)
            select 'twilio', 'sms', '+1777' || lpad(g::text, 7, '0'), now() - interval '{days} days',
                now() - make_interval(days => g % {days}), 1 + g % 5
            from generate_series(1, 1000) as g""",
        f"""insert into public.job_runs (job_name, status, started_by_role, started_at, finished_at, result)
            select 'retention_cleanup', 'succeeded', 'postgres', now() - make_interval(days => g),
                now() - make_interval(days => g) + interval '1 second', '{{}}'
            from generate_series(1, {days}) as g""",
    )
    out(f"  alerts, unknown numbers, job runs: {report.steps['small_tables']} s")

    started_indexes = time.perf_counter()
    for table, found in dropped.items():
        _rebuild_indexes(conn, table, found)
    report.steps["indexes"] = round(time.perf_counter() - started_indexes, 2)
    out(f"  indexes rebuilt: {report.steps['indexes']} s")
    conn.execute("set session_replication_role = origin")

    _step(
        conn,
        report,
        "usage_limits",
        # This period's running totals, as record_usage would have left them.
        f"""insert into public.usage_limits (workspace_id, metric, period_start, period_end, plan_key, tier_snapshot_id,
                soft_limit, hard_limit, used, limit_state)
            select e.workspace_id, e.metric, e.period_start, (e.period_start + interval '1 month')::date, 'business',
                e.tier_snapshot_id, (ts.limits -> e.metric ->> 'soft_limit')::numeric,
                (ts.limits -> e.metric ->> 'hard_limit')::numeric, sum(e.quantity), 'ok'
            from public.usage_events as e
            join public.tier_snapshots as ts on ts.id = e.tier_snapshot_id
            where e.period_start = date_trunc('month', now() at time zone 'UTC')::date
            group by e.workspace_id, e.metric, e.period_start, e.tier_snapshot_id, ts.limits""",
    )
    out(f"  usage_limits: {report.steps['usage_limits']} s")

    # The rollups of the loaded history, as private.fold_usage_rollups would build them (one pass over the
    # events; tests/usage/test_usage_rollups.py proves the fold's totals equal this recount), then the fold's
    # watermark after the last event: the next fold takes a reading and goes on from there.
    _step(
        conn,
        report,
        "usage_rollups",
        """insert into private.usage_daily_totals (workspace_id, usage_date, metric, period_start, tier_snapshot_id,
                source, quantity, event_count, first_event_id, last_event_id)
            select e.workspace_id, (e.occurred_at at time zone 'UTC')::date, e.metric, e.period_start,
                e.tier_snapshot_id, e.source, sum(e.quantity), count(*), min(e.id), max(e.id)
            from public.usage_events as e
            group by 1, 2, 3, 4, 5, 6""",
        """insert into private.usage_period_totals (workspace_id, period_start, metric, tier_snapshot_id, quantity,
                event_count, first_event_id, last_event_id)
            select d.workspace_id, d.period_start, d.metric, d.tier_snapshot_id, sum(d.quantity), sum(d.event_count),
                min(d.first_event_id), max(d.last_event_id)
            from private.usage_daily_totals as d
            group by 1, 2, 3, 4""",
        """update private.usage_rollup_state
            set folded_through = coalesce((select max(id) from public.usage_events), 0),
                pending_through = null, pending_at = null
            where name = 'usage_events'""",
    )
    out(f"  usage rollups folded: {report.steps['usage_rollups']} s")

    # The dashboard rollup of the loaded calls, SMS and messages, as private.fold_dashboard_rollups would build it
    # (tests/jobs/test_dashboard_rollups.py proves the fold equals this recount), stored in day order as the
    # minute-by-minute fold stores it; the watermark after the last fold_id, and no history without one (every
    # loaded row drew a fold_id).
    _step(
        conn,
        report,
        "dashboard_rollups",
        """insert into private.dashboard_daily_totals
            select (e.event_at at time zone 'UTC')::date, e.workspace_id, sum(e.calls), sum(e.call_minutes),
                sum(e.failed_calls), sum(e.sms_inbound), sum(e.sms_outbound), sum(e.failed_sms),
                sum(e.messages_inbound), sum(e.messages_outbound), count(*)
            from private.dashboard_events as e
            group by 1, 2
            order by 1, 2""",
        """insert into private.dashboard_platform_totals
            select t.day, sum(t.calls), sum(t.call_minutes), sum(t.failed_calls), sum(t.sms_inbound),
                sum(t.sms_outbound), sum(t.failed_sms), sum(t.messages_inbound), sum(t.messages_outbound),
                sum(t.event_count)
            from private.dashboard_daily_totals as t
            group by 1
            order by 1""",
        """update private.usage_rollup_state
            set folded_through = coalesce((select max(x.fold_id) from (
                    select max(fold_id) as fold_id from public.call_events
                    union all select max(fold_id) from public.sms_events
                    union all select max(fold_id) from public.messages) as x), 0),
                pending_through = null, pending_at = null
            where name = 'dashboard_events'""",
        "update private.dashboard_history_state set done = true",
    )
    out(f"  dashboard rollup folded: {report.steps['dashboard_rollups']} s")

    _step(
        conn,
        report,
        "provider_reports",
        # What the providers report per workspace, metric and day: our own totals, one day in a hundred off by 5%.
        """insert into public.provider_usage_reports (provider, workspace_id, metric, usage_date, quantity)
            select 'twilio', d.workspace_id, d.metric, d.usage_date,
                case when (extract(doy from d.usage_date)::int + hashtext(d.workspace_id::text)) % 100 = 0
                    then round(sum(d.quantity) * 1.05) else sum(d.quantity) end
            from private.usage_daily_totals as d
            where d.metric in ('sms', 'call_minutes')
            group by d.workspace_id, d.metric, d.usage_date""",
    )
    out(f"  provider usage reports: {report.steps['provider_reports']} s")

    started_analyze = time.perf_counter()
    conn.execute("vacuum analyze")
    report.steps["vacuum_analyze"] = round(time.perf_counter() - started_analyze, 2)
    out(f"  vacuum analyze: {report.steps['vacuum_analyze']} s")

    report.seconds = round(time.perf_counter() - started, 1)
    for table in (*BIG_TABLES, "alerts", "provider_usage_reports"):
        row = conn.execute(f"select count(*) from public.{table}").fetchone()
        assert row is not None
        report.rows[table] = int(row[0])
    return report
