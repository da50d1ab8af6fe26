-- A number provisioned to an agent leaves every inactive agent that still holds it.
--
-- Routing finds a delivery's agent by phone_number among active agents (one active
-- agent per number: agents_active_phone_number_idx). A released agent kept its number
-- while inactive, so its workspace could switch it back on while the number's new
-- agent was paused and take that tenant's calls and SMS (users may pause and resume
-- agents). Moving the number clears it from the old holders: the number has one agent.
-- Definer: provisioning writes numbers, and the old holder may be another tenant's row.
create or replace function private.tg_agents__move_released_number()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if new.phone_number is not null then
        update public.agents as a
        set phone_number = null
        where a.phone_number = new.phone_number and a.id <> new.id and not a.is_active;
    end if;
    return new;
end
$$;

comment on function private.tg_agents__move_released_number() is
'BEFORE INSERT/UPDATE OF phone_number on agents: clear the number from inactive agents that still hold it.';
revoke all on function private.tg_agents__move_released_number() from public;

create or replace trigger tg_agents__move_released_number
before insert or update of phone_number on public.agents
for each row execute function private.tg_agents__move_released_number();
