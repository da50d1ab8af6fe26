-- Agents and where they talk: channels, connectors, conversations, messages.
-- Column names for agents follow the ops checklist's canonical fields.

create table public.agents (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    user_id uuid not null references auth.users (id),
    agent_id text not null,
    phone_number text check (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    provider text check (provider ~ '^[a-z][a-z0-9_]{1,31}$'),
    provider_number_id text,
    deploy_request_id text,
    nickname text check (length(nickname) <= 120),
    status text not null default 'pending'
    check (status in ('pending', 'provisioning', 'active', 'paused', 'failed', 'released')),
    is_active boolean not null default true,
    provisioned_by text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- Until the provider assigns an id, agent_id is the placeholder pending-{user_id}.
    constraint agents_agent_id_placeholder check (
        agent_id not like 'pending-%' or agent_id = 'pending-' || user_id::text
    )
);
comment on table public.agents is
'Voice/SMS/chat agents. agent_id is the provider''s id, or pending-{user_id} until provisioned.';
comment on column public.agents.phone_number is 'E.164 (+ and 7 to 15 digits), enforced by a check constraint.';
comment on column public.agents.agent_id is 'Provider agent id; the placeholder pending-{user_id} until provisioned.';
comment on column public.agents.provisioned_by is 'Who provisioned the number: a user id or a backend name.';
create index agents_workspace_id_idx on public.agents (workspace_id);
create index agents_user_id_idx on public.agents (user_id);
-- A phone number belongs to at most one active agent; ingestion resolves numbers here.
create unique index agents_active_phone_number_idx on public.agents (phone_number)
where is_active and phone_number is not null;
create unique index agents_provisioned_agent_id_idx on public.agents (agent_id)
where agent_id not like 'pending-%';

create table public.agent_channels (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    agent_id uuid not null references public.agents (id) on delete cascade,
    channel_type text not null check (channel_type in ('whatsapp', 'messenger', 'webchat', 'sms', 'voice')),
    external_id text,
    config jsonb not null default '{}' check (jsonb_typeof(config) = 'object'),
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table public.agent_channels is
'Channels an agent answers on. external_id is the provider''s id for it (WhatsApp phone number id, page id).';
comment on column public.agent_channels.agent_id is 'The agent (agents.id, not the provider''s agents.agent_id).';
comment on column public.agent_channels.config is
'Non-secret channel configuration. Do not store secrets here: keys that look like secrets are refused.';
create index agent_channels_workspace_id_idx on public.agent_channels (workspace_id);
create index agent_channels_agent_id_idx on public.agent_channels (agent_id);
create unique index agent_channels_external_id_idx on public.agent_channels (channel_type, external_id)
where external_id is not null;

create table public.connectors (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    name text not null check (length(btrim(name)) between 1 and 200),
    connector_type text not null check (connector_type ~ '^[a-z][a-z0-9_]{1,63}$'),
    config_jsonb jsonb not null default '{}' check (jsonb_typeof(config_jsonb) = 'object'),
    secret_ref text check (secret_ref ~ '^[a-z0-9][a-z0-9_.:-]{0,127}$'),
    is_active boolean not null default true,
    last_synced_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table public.connectors is
'Data connectors (ingestion sources). Pausing one is the playbook''s is_active = false.';
comment on column public.connectors.config_jsonb is
'Non-secret configuration only; secret-looking keys are refused. Secrets live in Vault (secret_ref).';
comment on column public.connectors.secret_ref is 'Name of the Vault secret holding this connector''s credentials.';
create index connectors_workspace_id_idx on public.connectors (workspace_id);

create table public.conversations (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    agent_id uuid references public.agents (id) on delete set null,
    channel_id uuid references public.agent_channels (id) on delete set null,
    channel_type text not null check (channel_type in ('whatsapp', 'messenger', 'webchat', 'sms', 'voice')),
    external_thread_id text not null,
    contact_address text,
    status text not null default 'open' check (status in ('open', 'closed')),
    started_at timestamptz not null default now(),
    last_message_at timestamptz,
    created_at timestamptz not null default now()
);
comment on table public.conversations is
'One thread with one contact on one channel (external_thread_id: the sender''s WhatsApp id, PSID, session).';
create index conversations_workspace_id_idx on public.conversations (workspace_id, last_message_at desc);
create index conversations_agent_id_idx on public.conversations (agent_id);
create index conversations_channel_id_idx on public.conversations (channel_id);
create unique index conversations_thread_idx on public.conversations (
    workspace_id, channel_type, external_thread_id
);

create table public.messages (
    id uuid primary key default gen_random_uuid(),
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    conversation_id uuid not null references public.conversations (id) on delete cascade,
    direction text not null check (direction in ('inbound', 'outbound')),
    sender text,
    body text,
    provider text,
    provider_message_id text,
    metadata jsonb not null default '{}',
    sent_at timestamptz not null default now(),
    created_at timestamptz not null default now()
);
comment on table public.messages is
'Messages of conversations. body is PII: readable by the workspace''s members, masked in support views.';
create index messages_workspace_id_idx on public.messages (workspace_id, created_at desc);
create index messages_conversation_id_idx on public.messages (conversation_id, sent_at);
create unique index messages_provider_message_id_idx on public.messages (provider, provider_message_id)
where provider_message_id is not null;

alter table public.agents enable row level security;
alter table public.agent_channels enable row level security;
alter table public.connectors enable row level security;
alter table public.conversations enable row level security;
alter table public.messages enable row level security;

revoke all on public.agents, public.agent_channels, public.connectors, public.conversations, public.messages
from anon;
