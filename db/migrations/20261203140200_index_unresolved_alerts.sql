-- opsdb:no-transaction
-- The alerts' dedupe point moves from "not acknowledged" to "not resolved": one open
-- (unresolved) alert per dedupe_key. Every alert acknowledged so far was resolved by
-- the file before, so the rows the new index covers are the ones the old one
-- covered, and building it cannot fail.
-- Concurrently: every raise_alert writes to alerts, and a plain build would hold
-- those writes while it scans the table. Every statement can run again, so a run
-- interrupted half-way is simply run again; a build interrupted half-way leaves an
-- invalid index, which the check below names.
create unique index concurrently if not exists alerts_unresolved_dedupe_key_idx
on public.alerts (dedupe_key)
where resolved_at is null;

do $$
declare
    v_name text;
begin
    foreach v_name in array array[
        'alerts_unresolved_dedupe_key_idx', 'alerts_resolved_by_idx', 'alerts_open_type_idx', 'alerts_resolved_idx'
    ]
    loop
        if exists (
            select from pg_catalog.pg_index as i
            where i.indexrelid = pg_catalog.to_regclass('public.' || v_name) and not i.indisvalid
        ) then
            raise exception '% is invalid (an interrupted build)', v_name
            using hint = pg_catalog.format('drop index concurrently public.%s; then migrate again', v_name);
        end if;
    end loop;
end
$$;

drop index concurrently if exists public.alerts_open_dedupe_key_idx;

-- The foreign key to the admin who resolved it.
create index concurrently if not exists alerts_resolved_by_idx on public.alerts (resolved_by);
-- The condition sweep (private.resolve_cleared_alerts) and the console read the
-- open alerts of a type.
create index concurrently if not exists alerts_open_type_idx on public.alerts (type, id) where resolved_at is null;
-- Retention expires resolved alerts by resolved_at, continuing from the last key
-- of each batch (private._retention_step); an acknowledged alert stays open, so
-- acknowledged_at says nothing about expiry.
create index concurrently if not exists alerts_resolved_idx
on public.alerts (resolved_at, id)
where resolved_at is not null;
drop index concurrently if exists public.alerts_acknowledged_idx;

comment on index public.alerts_resolved_idx is
'Resolved alerts by when, for retention''s batches (acknowledged_alerts policy: resolved alerts).';
comment on index public.alerts_unresolved_dedupe_key_idx is
'The dedupe point: one open (unresolved) alert per dedupe_key (private.raise_alert).';
