-- API keys for the external API: only a SHA-256 hash of each key is stored,
-- never the key; failed authentications are kept so spikes can be alerted on.

create table public.workspace_api_keys (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    name text not null check (length(btrim(name)) between 1 and 100),
    prefix text not null check (prefix ~ '^opsk_[0-9a-f]{8}$'),
    key_hash text not null check (key_hash ~ '^[0-9a-f]{64}$'),
    scopes text[] not null default '{}',
    status text not null default 'active' check (status in ('active', 'revoked')),
    expires_at timestamptz,
    last_used_at timestamptz,
    created_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    revoked_by uuid references auth.users (id) on delete set null,
    revoked_reason text,
    constraint workspace_api_keys_revoked_at check ((status = 'revoked') = (revoked_at is not null))
);
comment on table public.workspace_api_keys is
'External API keys. Only key_hash (sha256 hex) is stored: the raw key is shown once by create_api_key.';
comment on column public.workspace_api_keys.prefix is 'The first 13 characters of the key, to recognise it in lists.';
comment on column public.workspace_api_keys.key_hash is 'hex(sha256(raw key)); authentication looks keys up by it.';
comment on column public.workspace_api_keys.status is
'active or revoked (final). The playbook''s UPDATE ... SET status = ''revoked'' takes effect at once.';
create unique index workspace_api_keys_key_hash_idx on public.workspace_api_keys (key_hash);
create index workspace_api_keys_workspace_id_idx on public.workspace_api_keys (workspace_id);
create index workspace_api_keys_created_by_idx on public.workspace_api_keys (created_by);
create index workspace_api_keys_revoked_by_idx on public.workspace_api_keys (revoked_by);

create table public.external_api_audit_logs (
    id bigint generated always as identity primary key,
    occurred_at timestamptz not null default now(),
    reason text not null check (
        reason in ('malformed', 'unknown', 'revoked', 'expired', 'workspace_suspended', 'workspace_disabled')
    ),
    key_id uuid,
    workspace_id uuid,
    key_prefix text,
    client_ip text,
    user_agent text
);
comment on table public.external_api_audit_logs is
'Failed API key authentications (unknown, revoked, expired, workspace not active), for auth-failure alerts.';
comment on column public.external_api_audit_logs.key_prefix is
'The presented key''s first 13 characters (never the key itself).';
-- No foreign keys on purpose: a failure record outlives the key and workspace it names.
create index external_api_audit_logs_occurred_at_idx on public.external_api_audit_logs (occurred_at);
create index external_api_audit_logs_workspace_id_idx
on public.external_api_audit_logs (workspace_id, occurred_at desc);
create index external_api_audit_logs_key_id_idx on public.external_api_audit_logs (key_id);

alter table public.workspace_api_keys enable row level security;
alter table public.external_api_audit_logs enable row level security;

revoke all on public.workspace_api_keys, public.external_api_audit_logs from anon, authenticated;
-- Keys are minted and revoked through create_api_key/revoke_api_key; admins may rename.
grant select on public.workspace_api_keys to authenticated;
grant update (name) on public.workspace_api_keys to authenticated;
grant select on public.external_api_audit_logs to authenticated;
-- Failure records are evidence: nobody edits them (retention may delete old ones).
revoke update on public.external_api_audit_logs from service_role;
