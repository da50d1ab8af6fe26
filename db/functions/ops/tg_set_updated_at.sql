-- Trigger function: keep updated_at current on every UPDATE, whoever writes.
create or replace function private.tg_set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := pg_catalog.now();
    return new;
end
$$;

comment on function private.tg_set_updated_at() is 'BEFORE UPDATE trigger: sets updated_at to now().';
revoke all on function private.tg_set_updated_at() from public;

-- Every table with an updated_at column gets the trigger.
create or replace trigger tg_plans__set_updated_at before update on public.plans
for each row execute function private.tg_set_updated_at();
create or replace trigger tg_workspaces__set_updated_at before update on public.workspaces
for each row execute function private.tg_set_updated_at();
create or replace trigger tg_agents__set_updated_at before update on public.agents
for each row execute function private.tg_set_updated_at();
create or replace trigger tg_agent_channels__set_updated_at before update on public.agent_channels
for each row execute function private.tg_set_updated_at();
create or replace trigger tg_connectors__set_updated_at before update on public.connectors
for each row execute function private.tg_set_updated_at();
