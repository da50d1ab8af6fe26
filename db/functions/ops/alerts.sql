-- Alert lifecycle: raised once per condition (private.raise_alert), acknowledged
-- by someone taking it on, resolved when its condition clears (private.clear_alert,
-- called where the condition is known to clear) or by a platform admin
-- (public.resolve_alert). Resolved alerts stay as history.

-- private.clear_alert: the condition behind dedupe_key has cleared; resolve its
-- open alert, saying why ('auto: ...'). Returns the alert's id, or null when none
-- was open. Definer code only.
create or replace function private.clear_alert(dedupe_key text, resolution text)
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
    update public.alerts as a
    set resolved_at = pg_catalog.now(), resolved_by = null, resolution = clear_alert.resolution
    where a.dedupe_key = clear_alert.dedupe_key and a.resolved_at is null
    returning a.id
$$;

comment on function private.clear_alert(text, text) is
'Resolve the open alert of a condition that has cleared (resolution says why); null when none is open.';
revoke all on function private.clear_alert(text, text) from public;

-- private._alert_change: the shared body of acknowledge_alert and resolve_alert.
-- Platform admins only (42501 otherwise); PT404 alert_not_found; 22023 for a
-- missing id or a note over 1,000 characters. Audited when it changes the alert;
-- repeating it changes nothing and answers the alert as it is.
create or replace function private._alert_change(alert_id bigint, note text, resolve boolean)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_before public.alerts%rowtype;
    v_after public.alerts%rowtype;
    v_note text := nullif(pg_catalog.btrim(_alert_change.note), '');
    v_action text := case when _alert_change.resolve then 'resolve_alert' else 'acknowledge_alert' end;
begin
    if not private.is_admin() then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = pg_catalog.format('%s is for platform admins', v_action),
            hint = 'Ask a platform admin.';
    end if;
    if _alert_change.alert_id is null then
        raise exception using errcode = '22023', message = 'alert_required', detail = 'alert_id is null';
    end if;
    if pg_catalog.length(v_note) > 1000 then
        raise exception using errcode = '22023', message = 'invalid_note', hint = 'Use at most 1,000 characters.';
    end if;

    select a.* into v_before from public.alerts as a where a.id = _alert_change.alert_id for update;
    if not found then
        raise exception using
            errcode = 'PT404',
            message = 'alert_not_found',
            detail = pg_catalog.format('alert %s', _alert_change.alert_id);
    end if;
    if (_alert_change.resolve and v_before.resolved_at is not null)
        or (not _alert_change.resolve and v_before.acknowledged_at is not null) then
        return pg_catalog.to_jsonb(v_before) || pg_catalog.jsonb_build_object('changed', false);
    end if;

    -- Resolving takes the alert on too; an acknowledgement never resolves.
    update public.alerts as a
    set acknowledged_at = coalesce(a.acknowledged_at, pg_catalog.now()),
        acknowledged_by = case when a.acknowledged_at is null then auth.uid() else a.acknowledged_by end,
        resolved_at = case when _alert_change.resolve then pg_catalog.now() else a.resolved_at end,
        resolved_by = case when _alert_change.resolve then auth.uid() else a.resolved_by end,
        resolution = case
            when _alert_change.resolve then coalesce(v_note, 'resolved by a platform admin')
            else a.resolution
        end
    where a.id = _alert_change.alert_id
    returning a.* into v_after;

    perform private.audit(
        v_action,
        'alerts',
        v_after.id::text,
        v_after.workspace_id,
        pg_catalog.jsonb_build_object(
            'acknowledged_at', v_before.acknowledged_at, 'resolved_at', v_before.resolved_at
        ),
        pg_catalog.jsonb_build_object(
            'acknowledged_at', v_after.acknowledged_at, 'resolved_at', v_after.resolved_at,
            'resolution', v_after.resolution
        ),
        v_note
    );
    return pg_catalog.to_jsonb(v_after) || pg_catalog.jsonb_build_object('changed', true);
end
$$;

comment on function private._alert_change(bigint, text, boolean) is
'Acknowledge or resolve an alert as a platform admin (audited); the body of acknowledge_alert and resolve_alert.';
revoke all on function private._alert_change(bigint, text, boolean) from public;
grant execute on function private._alert_change(bigint, text, boolean) to authenticated;

-- public.acknowledge_alert: a platform admin takes an alert on.
--
--   select public.acknowledge_alert(alert_id := 42, note := 'looking at the Twilio errors');
--   -> the alert: {id, type, severity, workspace_id, dedupe_key, message, details, created_at,
--      acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolution, changed}
--
-- The alert stays open (its condition still raises nothing new); the note goes to
-- the audit log. Who: platform admins (others 42501).
create or replace function public.acknowledge_alert(alert_id bigint, note text default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return private._alert_change(acknowledge_alert.alert_id, acknowledge_alert.note, false);
exception when lock_not_available then
    -- A stuck row lock is a 503 lock_timeout (see private._lock_timeout), not a 500.
    return private._lock_timeout('acknowledge_alert', pg_catalog.format('alert %s', acknowledge_alert.alert_id));
end
$$;

comment on function public.acknowledge_alert(bigint, text) is
'Acknowledge an alert (platform admins; audited): it stays open until resolved. Returns the alert.';
revoke all on function public.acknowledge_alert(bigint, text) from public;
grant execute on function public.acknowledge_alert(bigint, text) to authenticated;

-- public.resolve_alert: a platform admin closes an alert by hand.
--
--   select public.resolve_alert(alert_id := 42, note := 'Twilio outage over, dead letters replayed');
--   -> the alert, resolved: resolved_by = the admin, resolution = the note
--
-- If the condition is still there, it raises a new alert. Who: platform admins
-- (others 42501).
create or replace function public.resolve_alert(alert_id bigint, note text default null)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return private._alert_change(resolve_alert.alert_id, resolve_alert.note, true);
exception when lock_not_available then
    -- A stuck row lock is a 503 lock_timeout (see private._lock_timeout), not a 500.
    return private._lock_timeout('resolve_alert', pg_catalog.format('alert %s', resolve_alert.alert_id));
end
$$;

comment on function public.resolve_alert(bigint, text) is
'Resolve an alert by hand (platform admins; audited), keeping it as history. Returns the alert.';
revoke all on function public.resolve_alert(bigint, text) from public;
grant execute on function public.resolve_alert(bigint, text) to authenticated;
