-- Table privileges of the API roles on the tenancy tables, so a missing grant
-- (42501 permission denied) and not only a policy guards what a role never does.
-- Supabase grants anon, authenticated and service_role ALL on new public tables;
-- anon was revoked when the tables were made. service_role keeps ALL (it bypasses
-- RLS by design), except on audit_logs, which is append-only for everyone.

-- Plans, platform roles, agents, channels and connectors: policies decide who writes.
revoke all on public.plans, public.user_roles, public.agents, public.agent_channels, public.connectors
from authenticated;
grant select, insert, update, delete on public.plans, public.user_roles, public.agents, public.agent_channels,
public.connectors to authenticated;

-- Workspaces: anyone signed in may create one (as its owner) and admins rename it;
-- status and plan_key change only through set_workspace_status and payments.
-- Deleting a workspace is not an API operation: disable it instead.
revoke all on public.workspaces from authenticated;
grant select on public.workspaces to authenticated;
grant insert (name, owner_id) on public.workspaces to authenticated;
grant update (name) on public.workspaces to authenticated;

-- Memberships: workspace admins add, re-role and remove; the role is the only
-- column that ever changes.
revoke all on public.workspace_users from authenticated;
grant select, insert, delete on public.workspace_users to authenticated;
grant update (role) on public.workspace_users to authenticated;

-- Alerts are raised by definer code; users only read and acknowledge them.
revoke all on public.alerts from authenticated;
grant select on public.alerts to authenticated;
grant update (acknowledged_at, acknowledged_by) on public.alerts to authenticated;

-- audit_logs: written by triggers (definer code) only; users read, never write.
revoke all on public.audit_logs from authenticated;
grant select on public.audit_logs to authenticated;

-- Conversations and messages are written by ingestion (service_role); members
-- read them and may close a conversation.
revoke all on public.conversations, public.messages from authenticated;
grant select on public.conversations, public.messages to authenticated;
grant update (status) on public.conversations to authenticated;

-- Who granted a platform role defaults to the signed-in user doing it.
alter table public.user_roles alter column granted_by set default auth.uid();

-- Channels keep their credentials in Vault too, referenced by name as connectors do.
alter table public.agent_channels add column secret_ref text
check (secret_ref ~ '^[a-z0-9][a-z0-9_.:-]{0,127}$');
comment on column public.agent_channels.secret_ref is
'Name of the Vault secret holding this channel''s credentials (access token, app secret).';
