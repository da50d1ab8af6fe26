-- private.drop_policies: drop every policy on a table.
--
-- Each db/policies/ file starts with it, so the file is the whole truth about
-- its table: a policy renamed or removed in the file disappears from the
-- database on the next migrate instead of lingering. Migration-time only.
create or replace function private.drop_policies(target regclass)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_policy record;
    v_dropped integer := 0;
begin
    for v_policy in
        select p.polname from pg_catalog.pg_policy as p where p.polrelid = drop_policies.target
    loop
        execute pg_catalog.format('drop policy %I on %s', v_policy.polname, drop_policies.target);
        v_dropped := v_dropped + 1;
    end loop;
    return v_dropped;
end
$$;

comment on function private.drop_policies(regclass) is
'Drops every policy on the table (db/policies files recreate them); returns how many.';
revoke all on function private.drop_policies(regclass) from public;
