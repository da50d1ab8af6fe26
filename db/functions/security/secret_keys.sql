-- No secrets in config columns: agent_channels.config and connectors.config_jsonb
-- refuse keys that look like secrets, at any depth, so a credential can only be
-- stored in Vault and referenced by name (secret_ref).
--
-- A key is split into words (camelCase, snake_case, kebab-case and dots all
-- count as boundaries) and refused when a word is token, secret, password,
-- passwd, passphrase, authorization, credential(s) or bearer, or when two
-- words read api/access/private/secret/signing/client + key. Whole words only:
-- max_tokens or keyboard_layout are fine, accessToken and X-Api-Key are not.

create or replace function private.secret_key_paths(doc jsonb)
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
    with recursive walk (path, key, value) as (
        select '$'::text, null::text, secret_key_paths.doc
        union all
        select
            case
                when e.key is not null then w.path || '.' || e.key
                else w.path || '[' || e.idx::text || ']'
            end,
            e.key,
            e.value
        from walk as w
        cross join lateral (
            select o.key, null::bigint as idx, o.value
            from pg_catalog.jsonb_each(
                case when pg_catalog.jsonb_typeof(w.value) = 'object' then w.value end
            ) as o
            union all
            select null::text, a.ordinality - 1, a.value
            from pg_catalog.jsonb_array_elements(
                case when pg_catalog.jsonb_typeof(w.value) = 'array' then w.value end
            ) with ordinality as a (value, ordinality)
        ) as e
    ),

    words as (
        select
            w.path,
            -- camelCase -> camel_case, then any non-alphanumeric run is a boundary
            '_' || pg_catalog.regexp_replace(
                pg_catalog.lower(pg_catalog.regexp_replace(w.key, '([a-z0-9])([A-Z])', '\1_\2', 'g')),
                '[^a-z0-9]+', '_', 'g'
            ) || '_' as k
        from walk as w
        where w.key is not null
    )

    select coalesce(pg_catalog.array_agg(words.path order by words.path), '{}')
    from words
    where
        words.k ~ '_(token|secret|password|passwd|passphrase|authorization|credentials?|bearer)_'
        or words.k ~ '_(api|access|private|secret|signing|client)_?key_'
$$;

comment on function private.secret_key_paths(jsonb) is
'JSON paths of keys that look like secrets (token, secret, password, api_key, ...) at any depth.';
revoke all on function private.secret_key_paths(jsonb) from public;
-- Pure and side-effect free; the triggers call it as the writing role.
grant execute on function private.secret_key_paths(jsonb) to authenticated, service_role;

create or replace function private.assert_no_secret_keys(doc jsonb, column_label text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
    v_paths text[] := private.secret_key_paths(assert_no_secret_keys.doc);
begin
    if pg_catalog.cardinality(v_paths) > 0 then
        raise exception using
            errcode = '22023',
            message = 'secret_in_config',
            detail = pg_catalog.format(
                '%s has secret-looking keys: %s', column_label, pg_catalog.array_to_string(v_paths, ', ')
            ),
            hint = 'Store the secret with vault.create_secret(value, name) and put the name in secret_ref.';
    end if;
end
$$;

comment on function private.assert_no_secret_keys(jsonb, text) is
'Raises 22023 secret_in_config when the document has secret-looking keys; names the paths, never the values.';
revoke all on function private.assert_no_secret_keys(jsonb, text) from public;
grant execute on function private.assert_no_secret_keys(jsonb, text) to authenticated, service_role;

create or replace function private.tg_agent_channels__refuse_secrets()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform private.assert_no_secret_keys(new.config, 'agent_channels.config');
    return new;
end
$$;

comment on function private.tg_agent_channels__refuse_secrets() is
'BEFORE INSERT/UPDATE on agent_channels: config must hold no secret-looking keys.';
revoke all on function private.tg_agent_channels__refuse_secrets() from public;

create or replace trigger tg_agent_channels__refuse_secrets
before insert or update of config on public.agent_channels
for each row execute function private.tg_agent_channels__refuse_secrets();

create or replace function private.tg_connectors__refuse_secrets()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform private.assert_no_secret_keys(new.config_jsonb, 'connectors.config_jsonb');
    return new;
end
$$;

comment on function private.tg_connectors__refuse_secrets() is
'BEFORE INSERT/UPDATE on connectors: config_jsonb must hold no secret-looking keys.';
revoke all on function private.tg_connectors__refuse_secrets() from public;

create or replace trigger tg_connectors__refuse_secrets
before insert or update of config_jsonb on public.connectors
for each row execute function private.tg_connectors__refuse_secrets();
