-- grant_credits: add credits to a workspace's wallet (service_role or a platform admin).
--
--   select public.grant_credits(workspace_id := ..., amount := 100, reason := 'top-up P-42',
--                               idempotency_key := 'payment:P-42');
--   -> {balance, deducted (0), granted, transaction_id, duplicate}
--
-- Creates the wallet on the first grant. Idempotent like deduct_credits (same key and
-- arguments: the first result; other arguments: PT409). Every grant is audited.
-- A grant that restores the balance (above zero, and at least the refused charge
-- the alert records) resolves the workspace's open credits_exhausted alert.
-- Errors: 42501 for other callers, 22023 bad input, PT404 unknown workspace.
create or replace function private._grant_credits(
    workspace_id uuid,
    amount numeric,
    reason text,
    idempotency_key text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_balance numeric;
    v_transaction_id bigint;
    v_replay jsonb;
begin
    if not (private.is_service_role() or private.is_admin()) then
        raise exception using
            errcode = '42501',
            message = 'not_allowed',
            detail = 'grant_credits is for service_role and platform admins',
            hint = 'Ask a platform admin.';
    end if;
    if _grant_credits.workspace_id is null then
        raise exception using errcode = '22023', message = 'workspace_required', detail = 'workspace_id is null';
    end if;
    -- NaN compares greater than every number in PostgreSQL, so it is named; the
    -- upper bound also refuses +Infinity, the lower one -Infinity.
    if _grant_credits.amount is null or _grant_credits.amount = 'NaN'::numeric
        or _grant_credits.amount <= 0 or _grant_credits.amount > 1e12
        or _grant_credits.amount <> pg_catalog.round(_grant_credits.amount, 4) then
        raise exception using
            errcode = '22023',
            message = 'invalid_amount',
            detail = pg_catalog.format('amount %s', coalesce(_grant_credits.amount::text, 'null')),
            hint = 'amount must be greater than 0, at most 1e12, with at most 4 decimal places.';
    end if;
    if _grant_credits.reason is null or pg_catalog.length(pg_catalog.btrim(_grant_credits.reason)) not between 1 and 500 then
        raise exception using
            errcode = '22023', message = 'invalid_reason', hint = 'reason is required (1 to 500 characters).';
    end if;
    if _grant_credits.idempotency_key is not null and pg_catalog.length(_grant_credits.idempotency_key) not between 1 and 200 then
        raise exception using
            errcode = '22023', message = 'invalid_idempotency_key', hint = 'Use 1 to 200 characters.';
    end if;
    if _grant_credits.idempotency_key is not null then
        v_replay := private._credit_replay(
            'grant', _grant_credits.workspace_id, _grant_credits.amount,
            _grant_credits.reason, _grant_credits.idempotency_key
        );
        if v_replay is not null then
            return v_replay;
        end if;
    end if;
    if not exists (select from public.workspaces as ws where ws.id = _grant_credits.workspace_id) then
        raise exception using
            errcode = 'PT404',
            message = 'workspace_not_found',
            detail = pg_catalog.format('workspace %s', _grant_credits.workspace_id);
    end if;

    insert into public.workspace_wallets as w (workspace_id, balance)
    values (_grant_credits.workspace_id, _grant_credits.amount)
    on conflict (workspace_id) do update
        set balance = w.balance + excluded.balance, updated_at = pg_catalog.now()
    returning w.balance into v_balance;

    insert into public.wallet_ledger (
        workspace_id, kind, amount, balance_after, reason, idempotency_key, actor_id, actor_role
    )
    values (
        _grant_credits.workspace_id,
        'grant',
        _grant_credits.amount,
        v_balance,
        _grant_credits.reason,
        _grant_credits.idempotency_key,
        (select auth.uid()),
        coalesce(nullif((select auth.role()), ''), session_user::text)
    )
    on conflict (workspace_id, idempotency_key) where idempotency_key is not null do nothing
    returning id into v_transaction_id;

    if v_transaction_id is null then
        -- Lost the race to a same-key call that committed first: take the amount back.
        update public.workspace_wallets as w
        set balance = w.balance - _grant_credits.amount
        where w.workspace_id = _grant_credits.workspace_id;
        return private._credit_replay(
        'grant', _grant_credits.workspace_id, _grant_credits.amount,
        _grant_credits.reason, _grant_credits.idempotency_key
    );
    end if;

    update public.alerts as a
    set resolved_at = pg_catalog.now(),
        resolution = pg_catalog.format(
            'auto: credits granted (transaction %s), balance %s', v_transaction_id, v_balance
        )
    where a.dedupe_key = 'credits_exhausted:' || _grant_credits.workspace_id::text
        and a.resolved_at is null
        and v_balance > 0
        and v_balance >= coalesce((a.details ->> 'requested')::numeric, 0);

    perform private.audit(
        'grant_credits',
        'workspace_wallets',
        _grant_credits.workspace_id::text,
        _grant_credits.workspace_id,
        pg_catalog.jsonb_build_object('balance', v_balance - _grant_credits.amount),
        pg_catalog.jsonb_build_object('balance', v_balance, 'transaction_id', v_transaction_id),
        _grant_credits.reason
    );

    return pg_catalog.jsonb_build_object(
        'balance', v_balance,
        'deducted', 0,
        'granted', _grant_credits.amount,
        'transaction_id', v_transaction_id,
        'duplicate', false
    );
end
$$;

comment on function private._grant_credits(uuid, numeric, text, text) is
'Implementation of public.grant_credits (definer; checks the caller is service_role or a platform admin).';
revoke all on function private._grant_credits(uuid, numeric, text, text) from public;
grant execute on function private._grant_credits(uuid, numeric, text, text) to authenticated, service_role;

-- public.grant_credits: the API entry point; see private._grant_credits.
-- Who may call: service_role, platform admins (other users get 42501).
-- PL/pgSQL, not SQL: a SQL function with SET search_path is never inlined and is
-- planned again on every call; PL/pgSQL keeps its plan for the session.
create or replace function public.grant_credits(
    workspace_id uuid,
    amount numeric,
    reason text,
    idempotency_key text default null
)
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
begin
    return private._grant_credits(
        grant_credits.workspace_id, grant_credits.amount, grant_credits.reason, grant_credits.idempotency_key
    );
exception when lock_not_available then
    -- A stuck row lock is a 503 lock_timeout (see private._lock_timeout), not a 500.
    return private._lock_timeout('grant_credits', pg_catalog.format('workspace %s', grant_credits.workspace_id));
end
$$;

comment on function public.grant_credits(uuid, numeric, text, text) is
'Grant credits atomically and idempotently (service_role or admin): {balance, granted, transaction_id, duplicate}.';
revoke all on function public.grant_credits(uuid, numeric, text, text) from public;
grant execute on function public.grant_credits(uuid, numeric, text, text) to authenticated, service_role;
