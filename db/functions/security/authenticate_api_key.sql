-- authenticate_api_key: resolve a presented API key to its workspace.
--
--   select public.authenticate_api_key('opsk_...');
--   -> {"workspace_id": ..., "key_id": ..., "scopes": [...], "plan_key": "pro"}
--
-- Who: service_role (the external API's backend). A key is accepted when it is
-- active, not expired, and its workspace is active; last_used_at is refreshed
-- (at most once a minute per key, so a busy key does not serialise requests).
--
-- Every failure (malformed, unknown, revoked, expired, workspace suspended or
-- disabled) is recorded in external_api_audit_logs and answered with PT401
-- invalid_api_key. Through PostgREST the failure record must survive the
-- answer, and a raised error would roll it back: so in a request (request.method
-- set) the function commits the record and answers HTTP 401 through
-- response.status with PostgREST's own error body ({code: PT401, message,
-- details, hint}), which clients read exactly as a raised PT401. Called from
-- plain SQL it raises PT401 (and, like every failed call, keeps nothing).

create or replace function private._record_api_auth_failure(
    reason text,
    key_prefix text,
    key_id uuid default null,
    workspace_id uuid default null
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_headers jsonb := coalesce(nullif(pg_catalog.current_setting('request.headers', true), '')::jsonb, '{}');
    v_recent bigint;
begin
    insert into public.external_api_audit_logs (reason, key_id, workspace_id, key_prefix, client_ip, user_agent)
    values (
        _record_api_auth_failure.reason,
        _record_api_auth_failure.key_id,
        _record_api_auth_failure.workspace_id,
        _record_api_auth_failure.key_prefix,
        pg_catalog.split_part(coalesce(v_headers ->> 'x-forwarded-for', v_headers ->> 'x-real-ip'), ',', 1),
        pg_catalog.left(v_headers ->> 'user-agent', 300)
    );
    -- A spike of failures (a leaked-key probe, a misconfigured client) raises
    -- one open alert until someone acknowledges it.
    select pg_catalog.count(*) into v_recent
    from public.external_api_audit_logs as l
    where l.occurred_at > pg_catalog.now() - interval '5 minutes';
    if v_recent >= 20 then
        perform private.raise_alert(
            'api_auth_failures',
            'api_auth_failures',
            pg_catalog.format('%s failed API key authentications in the last 5 minutes', v_recent),
            null,
            'critical',
            pg_catalog.jsonb_build_object('failures_5m', v_recent, 'last_reason', _record_api_auth_failure.reason)
        );
    end if;
end
$$;

comment on function private._record_api_auth_failure(text, text, uuid, uuid) is
'Record a failed API key authentication; raises the api_auth_failures alert on a spike (20 in 5 minutes).';
revoke all on function private._record_api_auth_failure(text, text, uuid, uuid) from public;
grant execute on function private._record_api_auth_failure(text, text, uuid, uuid) to service_role;

create or replace function public.authenticate_api_key(api_key text)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
    v_key record;
    v_key_id uuid;
    v_workspace_id uuid;
    v_reason text;
    v_prefix text := pg_catalog.left(authenticate_api_key.api_key, 13);
begin
    if authenticate_api_key.api_key is null or authenticate_api_key.api_key !~ '^opsk_[0-9a-f]{64}$' then
        v_reason := 'malformed';
        v_prefix := case when v_prefix ~ '^opsk_[0-9a-f]{8}$' then v_prefix end;
    else
        select k.id, k.workspace_id, k.status, k.expires_at, k.scopes, w.status as workspace_status, w.plan_key
        into v_key
        from public.workspace_api_keys as k
        inner join public.workspaces as w on w.id = k.workspace_id
        where k.key_hash = pg_catalog.encode(extensions.digest(authenticate_api_key.api_key, 'sha256'), 'hex');
        v_key_id := v_key.id;
        v_workspace_id := v_key.workspace_id;
        v_reason := case
            when v_key.id is null then 'unknown'
            when v_key.status <> 'active' then 'revoked'
            when v_key.expires_at <= pg_catalog.now() then 'expired'
            when v_key.workspace_status <> 'active' then 'workspace_' || v_key.workspace_status
        end;
    end if;

    if v_reason is null then
        update public.workspace_api_keys as k
        set last_used_at = pg_catalog.now()
        where k.id = v_key.id and (k.last_used_at is null or k.last_used_at < pg_catalog.now() - interval '1 minute');
        return pg_catalog.jsonb_build_object(
            'workspace_id', v_key.workspace_id,
            'key_id', v_key.id,
            'scopes', pg_catalog.to_jsonb(v_key.scopes),
            'plan_key', v_key.plan_key
        );
    end if;

    if coalesce(pg_catalog.current_setting('request.method', true), '') = '' then
        raise exception using
            errcode = 'PT401', message = 'invalid_api_key',
            detail = pg_catalog.format('%s key %s', v_reason, coalesce(v_prefix, '(malformed)')),
            hint = 'Send an active key of an active workspace; keys are shown once by create_api_key.';
    end if;
    perform private._record_api_auth_failure(v_reason, v_prefix, v_key_id, v_workspace_id);
    perform pg_catalog.set_config('response.status', '401', true);
    return pg_catalog.jsonb_build_object(
        'code', 'PT401',
        'message', 'invalid_api_key',
        'details', pg_catalog.format('%s key %s', v_reason, coalesce(v_prefix, '(malformed)')),
        'hint', 'Send an active key of an active workspace; keys are shown once by create_api_key.'
    );
end
$$;

comment on function public.authenticate_api_key(text) is
'Resolve an API key (service_role): {workspace_id, key_id, scopes, plan_key}, or PT401 invalid_api_key (recorded).';
revoke all on function public.authenticate_api_key(text) from public;
grant execute on function public.authenticate_api_key(text) to service_role;
