-- public.list_messages_masked: the latest messages for platform staff, masked, keyset-paged.
--
--   select * from public.list_messages_masked();                                   -- every workspace
--   select * from public.list_messages_masked(workspace_id => '<uuid>', max_count => 50);
--   -- the next page: the last row's created_at and id
--   select * from public.list_messages_masked(before_created_at => '2026-11-30 10:00:00.123+00',
--       before_id => '<uuid>');
--   -> rows shaped like public.messages_masked (sender and body masked), newest first
--
-- public.messages_masked reads every message through a definer function, so a
-- "latest 50" over it reads them all; this reads the 50 from the index on
-- (created_at desc, id desc) (or on (workspace_id, created_at desc, id desc)),
-- starting at the cursor, so every page costs the same.
-- Who: platform staff (admins and support) and service_role; anyone else gets
-- 42501 not_allowed. Errors: 22023 invalid_max_count (1..500), invalid_cursor
-- (one of the two cursor values alone).
create or replace function private._list_messages_masked(
    of_workspace uuid,
    before_created_at timestamptz,
    before_id uuid,
    max_count integer
)
returns table (
    id uuid,
    workspace_id uuid,
    conversation_id uuid,
    direction text,
    sender text,
    body text,
    provider text,
    provider_message_id text,
    sent_at timestamptz,
    created_at timestamptz
)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    -- No cursor: start above every row (the row comparison stays an index condition).
    v_at timestamptz := coalesce(_list_messages_masked.before_created_at, 'infinity');
    v_id uuid := coalesce(_list_messages_masked.before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
begin
    if not (private.is_support() or private.is_service_role()) then
        raise exception using
            errcode = '42501', message = 'not_allowed',
            detail = pg_catalog.format('caller %s is not platform staff', coalesce((select auth.uid())::text, 'anonymous')),
            hint = 'Masked messages are for platform admins and support; members read public.messages.';
    end if;
    if _list_messages_masked.max_count is null or _list_messages_masked.max_count not between 1 and 500 then
        raise exception using
            errcode = '22023', message = 'invalid_max_count',
            detail = pg_catalog.format('max_count %s', _list_messages_masked.max_count),
            hint = 'max_count is between 1 and 500.';
    end if;
    if (_list_messages_masked.before_created_at is null) <> (_list_messages_masked.before_id is null) then
        raise exception using
            errcode = '22023', message = 'invalid_cursor',
            hint = 'Pass both before_created_at and before_id (the last row of the previous page), or neither.';
    end if;
    -- Two statements, not one with "workspace_id is null or ...": each keeps the plan of its own index.
    if _list_messages_masked.of_workspace is null then
        return query
        select
            m.id, m.workspace_id, m.conversation_id, m.direction, private.mask_pii(m.sender),
            private.mask_pii(m.body), m.provider, m.provider_message_id, m.sent_at, m.created_at
        from public.messages as m
        where (m.created_at, m.id) < (v_at, v_id)
        order by m.created_at desc, m.id desc
        limit _list_messages_masked.max_count;
    else
        return query
        select
            m.id, m.workspace_id, m.conversation_id, m.direction, private.mask_pii(m.sender),
            private.mask_pii(m.body), m.provider, m.provider_message_id, m.sent_at, m.created_at
        from public.messages as m
        where m.workspace_id = _list_messages_masked.of_workspace
            and (m.created_at, m.id) < (v_at, v_id)
        order by m.created_at desc, m.id desc
        limit _list_messages_masked.max_count;
    end if;
end
$$;

comment on function private._list_messages_masked(uuid, timestamptz, uuid, integer) is
'Implementation of public.list_messages_masked (definer: staff may not read public.messages itself).';
revoke all on function private._list_messages_masked(uuid, timestamptz, uuid, integer) from public;
grant execute on function private._list_messages_masked(uuid, timestamptz, uuid, integer)
to authenticated, service_role;

-- SQL, not PL/pgSQL: the result columns share names with the parameters (workspace_id).
create or replace function public.list_messages_masked(
    workspace_id uuid default null,
    before_created_at timestamptz default null,
    before_id uuid default null,
    max_count integer default 50
)
returns table (
    id uuid,
    workspace_id uuid,
    conversation_id uuid,
    direction text,
    sender text,
    body text,
    provider text,
    provider_message_id text,
    sent_at timestamptz,
    created_at timestamptz
)
language sql
stable
security invoker
set search_path = ''
as $$
    select * from private._list_messages_masked(
        list_messages_masked.workspace_id, list_messages_masked.before_created_at,
        list_messages_masked.before_id, list_messages_masked.max_count
    )
$$;

comment on function public.list_messages_masked(uuid, timestamptz, uuid, integer) is
'Platform staff: the latest messages (of one workspace or all), sender and body masked, keyset-paged by '
'(created_at, id) newest first.';
revoke all on function public.list_messages_masked(uuid, timestamptz, uuid, integer) from public;
grant execute on function public.list_messages_masked(uuid, timestamptz, uuid, integer) to authenticated, service_role;
