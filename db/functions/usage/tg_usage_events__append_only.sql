-- public.usage_events is append-only for every role, the owner and service_role included:
-- it is the evidence behind usage_limits and billing_line_items, and no job
-- (retention included) may change or delete it. UPDATE, DELETE and TRUNCATE raise.
create or replace function private.tg_usage_events__append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception using
        errcode = '42501',
        message = 'usage_events_append_only',
        detail = pg_catalog.format('%s on public.usage_events is not allowed', tg_op),
        hint = 'These rows are kept forever; record a correction as a new row.';
end
$$;

comment on function private.tg_usage_events__append_only() is 'Refuses UPDATE, DELETE and TRUNCATE on usage_events.';
revoke all on function private.tg_usage_events__append_only() from public;

create or replace trigger tg_usage_events__no_update before update or delete on public.usage_events
for each row execute function private.tg_usage_events__append_only();
create or replace trigger tg_usage_events__no_truncate before truncate on public.usage_events
for each statement execute function private.tg_usage_events__append_only();
