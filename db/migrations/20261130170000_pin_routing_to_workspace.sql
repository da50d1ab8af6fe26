-- After review: a workspace admin could take over another tenant's routing (its agent's channel, its number).

-- A child row's parent is in the child's own workspace. The RLS policies check
-- only the child's workspace_id, and a plain foreign key on agent_id accepted
-- any workspace's agent: W1's admin attached a disabled channel to W2's agent,
-- and ingestion then skipped W2's calls and SMS as channel_disabled. Composite
-- keys (workspace_id, parent id) make the database refuse that (23503) for
-- every writer; the unique (workspace_id, id) keys are what they reference.
alter table public.agents add constraint agents_workspace_id_id_key unique (workspace_id, id);
alter table public.agent_channels add constraint agent_channels_workspace_id_id_key unique (workspace_id, id);

alter table public.agent_channels
add constraint agent_channels_agent_in_workspace_fkey foreign key (workspace_id, agent_id)
references public.agents (workspace_id, id) on delete cascade;
alter table public.agent_channels drop constraint agent_channels_agent_id_fkey;

-- Conversations are written by ingestion only; the same keys keep a bug there
-- from filing one tenant's thread under another's agent or channel. On delete,
-- only the reference is cleared: workspace_id stays. (messages.conversation_id
-- keeps its plain key: messages are ingestion's alone, and a composite key would
-- cost the largest table one more index.)
alter table public.conversations
add constraint conversations_agent_in_workspace_fkey foreign key (workspace_id, agent_id)
references public.agents (workspace_id, id) on delete set null (agent_id),
add constraint conversations_channel_in_workspace_fkey foreign key (workspace_id, channel_id)
references public.agent_channels (workspace_id, id) on delete set null (channel_id);
alter table public.conversations
drop constraint conversations_agent_id_fkey,
drop constraint conversations_channel_id_fkey;

-- The children's indexes lead with the parent id and now cover the workspace too,
-- so deleting an agent or channel finds its rows by index under the new keys.
create index agent_channels_agent_id_workspace_id_idx on public.agent_channels (agent_id, workspace_id);
drop index public.agent_channels_agent_id_idx;
create index conversations_agent_id_workspace_id_idx on public.conversations (agent_id, workspace_id);
drop index public.conversations_agent_id_idx;
create index conversations_channel_id_workspace_id_idx on public.conversations (channel_id, workspace_id);
drop index public.conversations_channel_id_idx;

-- The routing keys are written by provisioning (service_role) only. Ingestion
-- finds a delivery's workspace by agents.phone_number (Twilio) and by
-- agent_channels (channel_type, external_id) (WhatsApp, Messenger); a workspace
-- admin who could write them could take another tenant's number while its agent
-- was paused (and then block its reactivation, 23505) or its WhatsApp id.
-- Users keep what the app does: create a pending agent, rename, pause and resume
-- it; add a channel, configure, switch it off, or move it to another agent of
-- the workspace (the key above keeps that inside the workspace). A row never
-- changes workspace.
revoke insert, update on public.agents, public.agent_channels from authenticated;
grant insert (id, workspace_id, user_id, agent_id, nickname) on public.agents to authenticated;
grant update (nickname, status, is_active, updated_at) on public.agents to authenticated;
grant insert (id, workspace_id, agent_id, channel_type, config, secret_ref, is_active) on public.agent_channels
to authenticated;
grant update (agent_id, config, secret_ref, is_active, updated_at) on public.agent_channels to authenticated;

comment on column public.agents.phone_number is
'E.164 (+ and 7 to 15 digits), enforced by a check constraint. Routes Twilio deliveries: written by '
'provisioning (service_role) only.';
comment on column public.agent_channels.external_id is
'The provider''s id for the channel (WhatsApp phone number id, page id). Routes Meta deliveries: written by '
'provisioning (service_role) only.';
