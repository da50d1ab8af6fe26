-- A signed-in user creates an agent with the placeholder agent_id pending-{user_id};
-- only provisioning (service_role) gives it the provider's id. The provider ids are
-- unique among provisioned agents, so a user who could pick one could reserve the id
-- another tenant's provisioning is about to write, and block it.
-- Invoker on purpose: current_user is the API role that runs the insert.
create or replace function private.tg_agents__pending_until_provisioned()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if current_user = 'authenticated' and new.agent_id is distinct from 'pending-' || new.user_id::text then
        raise exception using
            errcode = '42501',
            message = 'agent_id_reserved_for_provisioning',
            detail = pg_catalog.format('agent_id %L; a new agent of user %s is pending-%s', new.agent_id,
                new.user_id, new.user_id),
            hint = 'Create the agent with agent_id pending-{user_id}; provisioning sets the provider''s id.';
    end if;
    return new;
end
$$;

comment on function private.tg_agents__pending_until_provisioned() is
'BEFORE INSERT on agents: a signed-in user''s new agent has the placeholder agent_id pending-{user_id} (42501 else).';
revoke all on function private.tg_agents__pending_until_provisioned() from public;

create or replace trigger tg_agents__pending_until_provisioned
before insert on public.agents
for each row execute function private.tg_agents__pending_until_provisioned();
