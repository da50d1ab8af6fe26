-- private.note_unknown_phone: remember a receiving number (or Meta channel id)
-- that matched nothing: first and last seen, how many deliveries, the latest one.
--
-- count_delivery is false when a delivery already counted is processed again
-- (a replay), so seen_count stays the number of distinct deliveries. The upsert
-- makes concurrent first sightings end as one row with the right count.
create or replace function private.note_unknown_phone(
    provider text,
    channel_type text,
    phone_number text,
    webhook_id bigint,
    count_delivery boolean
)
returns void
language sql
volatile
set search_path = ''
as $$
    insert into public.unknown_phone as u (provider, channel_type, phone_number, last_webhook_id)
    select
        note_unknown_phone.provider,
        note_unknown_phone.channel_type,
        note_unknown_phone.phone_number,
        note_unknown_phone.webhook_id
    where note_unknown_phone.count_delivery
    on conflict on constraint unknown_phone_receiver_once do update
    set last_seen_at = pg_catalog.now(),
        seen_count = u.seen_count + 1,
        last_webhook_id = excluded.last_webhook_id
$$;

comment on function private.note_unknown_phone(text, text, text, bigint, boolean) is
'Upsert unknown_phone for a delivery to an address that matched no active agent or channel.';
revoke all on function private.note_unknown_phone(text, text, text, bigint, boolean) from public;
