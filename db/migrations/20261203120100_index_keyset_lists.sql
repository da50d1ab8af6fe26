-- opsdb:no-transaction
-- Every list staff or the API page through is keyset-paged on a unique sort key (a time and the id), and an
-- index answers it in that order, so page 1,000 costs what page 1 costs (docs/paging.md has each query):
-- * latest messages: of every workspace (staff, masked) and of one workspace (members);
-- * webhook deliveries by status and time (the statuses that need attention) and by time alone;
-- * alerts, and audit logs: of every workspace (staff) and of one workspace;
-- * ledger entries of one workspace: wallet_ledger's primary key (workspace_id, id) already.
-- Each new index with the id appended supersedes the one it extends (same leading columns, so foreign keys
-- on workspace_id stay indexed); the old one is dropped after the new one is valid.
--
-- Concurrently: these tables take writes all day (messages and webhook_queue on every delivery), and a plain
-- build would block them while it scans. Every statement can run again; an interrupted build leaves an
-- invalid index, which the check below names.

create index concurrently if not exists messages_latest_idx
on public.messages (created_at desc, id desc);

create index concurrently if not exists messages_workspace_latest_idx
on public.messages (workspace_id, created_at desc, id desc);

create index concurrently if not exists webhook_queue_received_idx
on public.webhook_queue (received_at, id);

create index concurrently if not exists webhook_queue_status_received_idx
on public.webhook_queue (status, received_at, id)
where status in ('failed', 'dead_letter', 'unknown_phone', 'rejected');

create index concurrently if not exists alerts_latest_idx
on public.alerts (created_at desc, id desc);

create index concurrently if not exists alerts_workspace_latest_idx
on public.alerts (workspace_id, created_at desc, id desc);

create index concurrently if not exists audit_logs_latest_idx
on public.audit_logs (occurred_at desc, id desc);

create index concurrently if not exists audit_logs_workspace_latest_idx
on public.audit_logs (workspace_id, occurred_at desc, id desc);

do $$
declare
    v_invalid text;
begin
    select pg_catalog.string_agg(i.indexrelid::regclass::text, ', ')
    into v_invalid
    from pg_catalog.pg_index as i
    where not i.indisvalid
        and i.indexrelid in (
            pg_catalog.to_regclass('public.messages_latest_idx'),
            pg_catalog.to_regclass('public.messages_workspace_latest_idx'),
            pg_catalog.to_regclass('public.webhook_queue_received_idx'),
            pg_catalog.to_regclass('public.webhook_queue_status_received_idx'),
            pg_catalog.to_regclass('public.alerts_latest_idx'),
            pg_catalog.to_regclass('public.alerts_workspace_latest_idx'),
            pg_catalog.to_regclass('public.audit_logs_latest_idx'),
            pg_catalog.to_regclass('public.audit_logs_workspace_latest_idx')
        );
    if v_invalid is not null then
        raise exception 'invalid index (an interrupted build): %', v_invalid
        using hint = 'drop index concurrently each one named; then migrate again';
    end if;
end
$$;

drop index concurrently if exists public.messages_workspace_id_idx;
drop index concurrently if exists public.webhook_queue_received_at_idx;
drop index concurrently if exists public.webhook_queue_attention_idx;
drop index concurrently if exists public.alerts_workspace_id_idx;
drop index concurrently if exists public.audit_logs_workspace_id_idx;

comment on index public.messages_latest_idx is 'Latest messages of every workspace (staff), keyset (created_at, id).';
comment on index public.messages_workspace_latest_idx is
'Latest messages of one workspace, keyset (created_at, id); also the workspace_id foreign key''s index.';
comment on index public.webhook_queue_received_idx is
'Deliveries by time, keyset (received_at, id); retention''s path to the oldest rows.';
comment on index public.webhook_queue_status_received_idx is
'Deliveries that need attention by status and time, keyset (received_at, id).';
comment on index public.alerts_latest_idx is 'Alerts of every workspace (staff), keyset (created_at, id).';
comment on index public.alerts_workspace_latest_idx is
'Alerts of one workspace, keyset (created_at, id); also the workspace_id foreign key''s index.';
comment on index public.audit_logs_latest_idx is
'Audit rows of every workspace (platform admins), keyset (occurred_at, id).';
comment on index public.audit_logs_workspace_latest_idx is 'Audit rows of one workspace, keyset (occurred_at, id).';
