-- opsdb:destructive drops superseded function versions that no file defines; nothing calls them
-- Removals live here, not in the re-applied files, which describe only what exists.

-- Older signatures of functions that gained a parameter (each would stay as an
-- overload), and argument checks now inlined in the credit functions.
drop function if exists private._run_retention_cleanup();
drop function if exists private._job_run_start(text, jsonb);
drop function if exists private._run_webhook(bigint, text, text, jsonb, text, boolean, jsonb, text, text);
drop function if exists private._check_credit_arguments(uuid, numeric, text, text);

-- Per-table trigger functions replaced by private.tg_append_only() and
-- private.tg_audit_activation(text). One that a trigger still calls stays: the
-- re-applied trigger files re-point the trigger, and `opsdb verify` then lists
-- the function as an orphan for a later migration to drop.
do $$
declare
    v_name text;
    v_function regprocedure;
begin
    foreach v_name in array array[
        'private.tg_audit_logs__append_only()',
        'private.tg_usage_events__append_only()',
        'private.tg_wallet_ledger__append_only()',
        'private.tg_agent_channels__audit_activation()',
        'private.tg_connectors__audit_activation()'
    ]
    loop
        v_function := pg_catalog.to_regprocedure(v_name);
        if v_function is not null
            and not exists (select from pg_catalog.pg_trigger as t where t.tgfoid = v_function) then
            execute pg_catalog.format('drop function %s', v_function);
        end if;
    end loop;
end
$$;

-- Same signatures with an older return type, which create or replace cannot
-- change: the billing run returned a line count, the resolvers a set of rows.
do $$
declare
    v_function regprocedure;
begin
    v_function := pg_catalog.to_regprocedure('private.generate_all_billing_line_items(date)');
    if v_function is not null
        and (select p.prorettype from pg_catalog.pg_proc as p where p.oid = v_function)
        = 'pg_catalog.int4'::pg_catalog.regtype then
        execute pg_catalog.format('drop function %s', v_function);
    end if;
    foreach v_function in array array[
        pg_catalog.to_regprocedure('private._resolve_agent_number(text, text)'),
        pg_catalog.to_regprocedure('private._resolve_channel(text, text)')
    ]
    loop
        if v_function is not null and (select p.proretset from pg_catalog.pg_proc as p where p.oid = v_function) then
            execute pg_catalog.format('drop function %s', v_function);
        end if;
    end loop;
end
$$;
