-- After review of the jobs: their log is written by the jobs alone, anon can use no
-- sequence, and reconciliation compares only the usage the providers bill for.

-- job_runs is written by definer job code only; service_role reads it (as the policy
-- file and the table comment say), and cannot forge or erase a run.
revoke insert, update, delete, truncate on public.job_runs from service_role;

-- anon calls no function and writes no table, so it has no use for a sequence; the
-- API roles' default grants had given it every one in public.
revoke all on all sequences in schema public from anon;
alter default privileges in schema public revoke all on sequences from anon;

-- Which usage a provider's report covers. Meta bills WhatsApp and Messenger
-- messages, not web chat: comparing all messages with Meta's report flagged every
-- workspace with web chat traffic, every night.
alter table public.reconciliation_tolerances add column internal_sources text[];

comment on column public.reconciliation_tolerances.internal_sources is
'The usage_events.source values the providers'' reports cover (null: every source). '
'Internal usage from other sources is left out of the comparison.';

update public.reconciliation_tolerances
set
    internal_sources = '{whatsapp,messenger}',
    note = 'Meta reports WhatsApp and Messenger messages; web chat and other sources have no provider '
    || 'report and are left out (internal_sources).',
    updated_at = now()
where metric = 'messages';
