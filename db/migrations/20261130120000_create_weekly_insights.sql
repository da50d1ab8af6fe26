-- Weekly insights: one row of figures per workspace and ISO week (UTC), written by
-- public.generate_weekly_insights (pg_cron on Mondays, or by hand) and read by the
-- workspace's members and platform staff.

create table public.weekly_insights (
    id bigint generated always as identity primary key,
    workspace_id uuid not null references public.workspaces (id),
    week_start date not null check (extract(isodow from week_start) = 1),
    calls integer not null default 0 check (calls >= 0),
    call_minutes bigint not null default 0 check (call_minutes >= 0),
    failed_calls integer not null default 0 check (failed_calls >= 0),
    sms_inbound integer not null default 0 check (sms_inbound >= 0),
    sms_outbound integer not null default 0 check (sms_outbound >= 0),
    failed_sms integer not null default 0 check (failed_sms >= 0),
    messages_inbound integer not null default 0 check (messages_inbound >= 0),
    messages_outbound integer not null default 0 check (messages_outbound >= 0),
    errors integer not null default 0 check (errors >= 0),
    usage jsonb not null default '{}' check (jsonb_typeof(usage) = 'object'),
    credits_spent numeric(20, 4) not null default 0 check (credits_spent >= 0),
    credits_granted numeric(20, 4) not null default 0 check (credits_granted >= 0),
    webhook_failures integer not null default 0 check (webhook_failures >= 0),
    webhooks_rejected integer not null default 0 check (webhooks_rejected >= 0),
    alerts_raised integer not null default 0 check (alerts_raised >= 0),
    change jsonb not null default '{}' check (jsonb_typeof(change) = 'object'),
    -- set null: the retention cleanup deletes old job_runs, the insights stay.
    job_run_id bigint references public.job_runs (id) on delete set null,
    generated_at timestamptz not null default now(),
    constraint weekly_insights_workspace_week_key unique (workspace_id, week_start)
);

comment on table public.weekly_insights is
'One row per workspace and ISO week (Monday, UTC): calls, SMS, chat messages, errors, usage by metric, credits, '
'attributable webhook failures and alerts, with the change against the week before. Written only by '
'generate_weekly_insights (re-running a week replaces its rows with the same figures).';
comment on column public.weekly_insights.week_start is
'The Monday (UTC) the week starts; the week is [week_start, week_start + 7 days) in UTC.';
comment on column public.weekly_insights.calls is
'Calls that ended in the week (one terminal status each: completed, busy, no-answer, canceled, failed).';
comment on column public.weekly_insights.call_minutes is 'Billable minutes of the calls completed in the week.';
comment on column public.weekly_insights.sms_inbound is 'SMS received by the workspace''s agents.';
comment on column public.weekly_insights.sms_outbound is 'SMS the workspace''s agents sent (status sent).';
comment on column public.weekly_insights.failed_sms is 'SMS status callbacks saying failed or undelivered.';
comment on column public.weekly_insights.messages_inbound is 'Chat messages (WhatsApp, Messenger, web chat) received.';
comment on column public.weekly_insights.messages_outbound is 'Chat messages sent.';
comment on column public.weekly_insights.errors is 'failed_calls + failed_sms (as in dashboard_daily_metrics).';
comment on column public.weekly_insights.usage is
'{metric: quantity} of the usage_events that occurred in the week (metrics with no usage are absent).';
comment on column public.weekly_insights.credits_spent is 'Credits deducted from the wallet in the week (positive).';
comment on column public.weekly_insights.credits_granted is 'Credits granted to the wallet in the week.';
comment on column public.weekly_insights.webhook_failures is
'Deliveries received in the week and still failed or dead-lettered, attributed by the workspace''s agent numbers '
'(Twilio To/From) or channel ids (Meta entry ids and phone_number_id).';
comment on column public.weekly_insights.webhooks_rejected is
'Deliveries received in the week that failed signature verification and claim one of the workspace''s numbers or '
'channels (unverified: the claim is the sender''s).';
comment on column public.weekly_insights.alerts_raised is 'Alerts raised for the workspace in the week.';
comment on column public.weekly_insights.change is
'Against the week before, per figure: {previous, delta, percent} (percent null when previous is 0); '
'usage per metric under "usage".';
comment on column public.weekly_insights.job_run_id is 'The job_runs row of the run that wrote it (null once purged).';

-- workspace_id (the read policy) leads the unique key's index.
create index weekly_insights_week_start_idx on public.weekly_insights (week_start);
create index weekly_insights_job_run_id_idx on public.weekly_insights (job_run_id);

alter table public.weekly_insights enable row level security;

-- Only the job (definer code) writes; members and staff read through the policy.
revoke all on public.weekly_insights from anon;
revoke insert, update, delete, truncate on public.weekly_insights from authenticated, service_role;
