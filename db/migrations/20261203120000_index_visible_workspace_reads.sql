-- opsdb:no-transaction
-- Read policies name the visible workspaces in one array (private.visible_workspace_ids): a member's read
-- without a workspace filter is answered from the index that leads with workspace_id, not by scanning every
-- tenant's rows. Three tables keep platform-wide rows with no workspace (alerts, audit_logs,
-- external_api_audit_logs); their policies compare coalesce(workspace_id, nil uuid) with the array (staff's
-- array carries the nil uuid), so they get an index on that expression, ordered for the newest-first lists.
--
-- Concurrently: every statement can run again; an interrupted build leaves an invalid index, named below.

-- The nil uuid stands for "no workspace" in those arrays: no workspace may have it.
do $$
begin
    if not exists (
        select from pg_catalog.pg_constraint as c
        where c.conrelid = 'public.workspaces'::regclass and c.conname = 'workspaces_id_not_nil'
    ) then
        alter table public.workspaces
        add constraint workspaces_id_not_nil check (id <> '00000000-0000-0000-0000-000000000000'::uuid) not valid;
    end if;
end
$$;

-- Validating again is harmless: the statement can be rerun.
-- squawk-ignore prefer-robust-stmts
alter table public.workspaces validate constraint workspaces_id_not_nil;

create index concurrently if not exists alerts_visible_idx
on public.alerts ((coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid)), created_at desc, id desc);

create index concurrently if not exists audit_logs_visible_idx
on public.audit_logs (
    (coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid)), occurred_at desc, id desc
);

create index concurrently if not exists external_api_audit_logs_visible_idx
on public.external_api_audit_logs (
    (coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid)), occurred_at desc, id desc
);

do $$
declare
    v_invalid text;
begin
    select pg_catalog.string_agg(i.indexrelid::regclass::text, ', ')
    into v_invalid
    from pg_catalog.pg_index as i
    where not i.indisvalid
        and i.indexrelid in (
            pg_catalog.to_regclass('public.alerts_visible_idx'),
            pg_catalog.to_regclass('public.audit_logs_visible_idx'),
            pg_catalog.to_regclass('public.external_api_audit_logs_visible_idx')
        );
    if v_invalid is not null then
        raise exception 'invalid index (an interrupted build): %', v_invalid
        using hint = 'drop index concurrently each one named; then migrate again';
    end if;
end
$$;

comment on index public.alerts_visible_idx is
'The read policy''s path: alerts per visible workspace (nil uuid: platform-wide), newest first.';
comment on index public.audit_logs_visible_idx is
'The read policy''s path: audit rows per visible workspace (nil uuid: platform-wide), newest first.';
comment on index public.external_api_audit_logs_visible_idx is
'The read policy''s path: failed API authentications per visible workspace (nil uuid: unknown key), newest first.';
