-- public.list_webhooks: stored webhook deliveries for staff, newest first, keyset-paged.
--
--   select public.list_webhooks(status => 'failed', provider => 'twilio', max_count => 50);
--   -- the next page: pass back the "next" of the previous answer
--   select public.list_webhooks(status => 'failed', provider => 'twilio', max_count => 50,
--       before_received_at => '2026-11-22T09:59:58.1+00:00', before_id => 81234);
--   -> {webhooks: [{webhook_id, provider, event_type, status, received_at, attempts, last_error,
--      signature_valid, skip_reason}, ...], next: {before_received_at, before_id} or null on the last page}
--
-- Filters, each optional: provider, status, workspace_id (deliveries whose
-- normalized events (calls, SMS, messages) or payments belong to the workspace;
-- a delivery that never reached a workspace has none), and a received_at range
-- [received_after, received_before). Pages by (received_at, webhook_id)
-- descending, so every page costs the same: the index on received_at (or on
-- status and received_at for the statuses that need attention) is walked from
-- the cursor. No payloads: webhook_delivery shows one, masked. Who: platform
-- admins (raw deliveries are theirs alone). Errors: 42501 not_allowed; 22023
-- invalid_max_count (1..500), invalid_cursor (one of the two cursor values alone).
create or replace function private._list_webhooks(
    provider text,
    status text,
    workspace_id uuid,
    received_after timestamptz,
    received_before timestamptz,
    before_received_at timestamptz,
    before_id bigint,
    max_count integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_where text := 'true';
    v_rows jsonb;
begin
    if not private.is_admin() then
        raise exception using
            errcode = '42501', message = 'not_allowed',
            detail = pg_catalog.format('caller %s is not a platform admin',
                coalesce((select auth.uid())::text, 'anonymous')),
            hint = 'Raw webhook deliveries are for platform admins.';
    end if;
    if _list_webhooks.max_count is null or _list_webhooks.max_count not between 1 and 500 then
        raise exception using
            errcode = '22023', message = 'invalid_max_count',
            detail = pg_catalog.format('max_count %s', _list_webhooks.max_count),
            hint = 'max_count is between 1 and 500.';
    end if;
    if (_list_webhooks.before_received_at is null) <> (_list_webhooks.before_id is null) then
        raise exception using
            errcode = '22023', message = 'invalid_cursor',
            hint = 'Pass both before_received_at and before_id (the last row of the previous page), or neither.';
    end if;
    -- Only the filters given become predicates, so each combination gets the plan of its own index.
    if _list_webhooks.provider is not null then
        v_where := v_where || ' and q.provider = $1';
    end if;
    if _list_webhooks.status is not null then
        v_where := v_where || ' and q.status = $2';
    end if;
    if _list_webhooks.workspace_id is not null then
        v_where := v_where || $w$ and q.id in (
            select c.webhook_id from public.call_events as c where c.workspace_id = $3
            union
            select s.webhook_id from public.sms_events as s where s.workspace_id = $3
            union
            select (m.metadata ->> 'webhook_id')::bigint from public.messages as m
            where m.workspace_id = $3 and m.metadata ? 'webhook_id'
            union
            select p.webhook_id from public.payments as p where p.workspace_id = $3
        )$w$;
    end if;
    if _list_webhooks.received_after is not null then
        v_where := v_where || ' and q.received_at >= $4';
    end if;
    if _list_webhooks.received_before is not null then
        v_where := v_where || ' and q.received_at < $5';
    end if;
    if _list_webhooks.before_received_at is not null then
        v_where := v_where || ' and (q.received_at, q.id) < ($6, $7)';
    end if;
    -- One row more than asked says whether there is a next page.
    execute
        'select coalesce(jsonb_agg(to_jsonb(r) order by r.received_at desc, r.webhook_id desc), ''[]'') from ('
        || 'select q.id as webhook_id, q.provider::text as provider, q.event_type, q.status::text as status,'
        || ' q.received_at, q.attempts::integer as attempts, q.last_error, q.signature_valid, q.skip_reason'
        || ' from public.webhook_queue as q where ' || v_where
        || ' order by q.received_at desc, q.id desc limit $8 + 1) as r'
    into v_rows
    using _list_webhooks.provider, _list_webhooks.status, _list_webhooks.workspace_id,
        _list_webhooks.received_after, _list_webhooks.received_before,
        _list_webhooks.before_received_at, _list_webhooks.before_id, _list_webhooks.max_count;
    if pg_catalog.jsonb_array_length(v_rows) <= _list_webhooks.max_count then
        return pg_catalog.jsonb_build_object('webhooks', v_rows, 'next', null);
    end if;
    v_rows := v_rows - _list_webhooks.max_count;
    return pg_catalog.jsonb_build_object(
        'webhooks', v_rows,
        'next', pg_catalog.jsonb_build_object(
            'before_received_at', v_rows -> (_list_webhooks.max_count - 1) -> 'received_at',
            'before_id', v_rows -> (_list_webhooks.max_count - 1) -> 'webhook_id'
        )
    );
end
$$;

comment on function private._list_webhooks(text, text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer) is
'Implementation of public.list_webhooks (definer: the workspace filter reads SMS events, members-only).';
revoke all on function private._list_webhooks(text, text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer)
from public;
grant execute on function private._list_webhooks(
    text, text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer
) to authenticated;

create or replace function public.list_webhooks(
    provider text default null,
    status text default null,
    workspace_id uuid default null,
    received_after timestamptz default null,
    received_before timestamptz default null,
    before_received_at timestamptz default null,
    before_id bigint default null,
    max_count integer default 50
)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
    select private._list_webhooks(
        list_webhooks.provider, list_webhooks.status, list_webhooks.workspace_id,
        list_webhooks.received_after, list_webhooks.received_before,
        list_webhooks.before_received_at, list_webhooks.before_id, list_webhooks.max_count
    )
$$;

comment on function public.list_webhooks(text, text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer) is
'Webhook deliveries for platform admins, filtered by provider, status, workspace and time, keyset-paged newest first.';
revoke all on function public.list_webhooks(text, text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer)
from public;
grant execute on function public.list_webhooks(text, text, uuid, timestamptz, timestamptz, timestamptz, bigint, integer)
to authenticated;
