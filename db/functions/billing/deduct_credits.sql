-- deduct_credits: take credits from a workspace's wallet (service_role).
--
--   select public.deduct_credits(workspace_id := ..., amount := 1.5, reason := 'call CA123',
--                                idempotency_key := 'call:CA123');
--   -> {balance, deducted, transaction_id, duplicate}
--
-- One round trip; the row lock is taken by the guarded UPDATE and held only until
-- this call's transaction ends. `balance >= amount` in the UPDATE is re-checked on
-- the newest row version after a lock wait (READ COMMITTED), so concurrent
-- deductions can never overdraw; the CHECK (balance >= 0) backs it up.
-- PT402 insufficient_credits leaves the balance and the ledger untouched. The same
-- idempotency key with the same amount and reason answers the first result again
-- (charged once); with other arguments PT409. Bad input: 22023; unknown workspace: PT404.
--
-- credits_exhausted: one alert per workspace while it is open, raised when a
-- deduction leaves the balance at zero, and on the first refusal (a wallet left
-- at 0.3 refuses a charge of 1). The refusal's alert must outlive the refusal,
-- and a raised error would roll it back: so when deduct_credits is the request
-- itself (PostgREST, request.path /rpc/deduct_credits), the refusal raises the
-- alert, answers HTTP 402 through response.status with PostgREST's error body
-- ({code: PT402, message, details, hint}), which clients read exactly as a raised
-- PT402, and the alert commits. Called from SQL (or from other functions) it
-- raises PT402 and, like every failed call, keeps nothing. A grant that
-- restores the balance resolves the alert (private._grant_credits).
create or replace function private._deduct_credits(
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
    -- Who is asking, resolved before the row lock is taken (the lock is held to commit).
    v_actor_id uuid := auth.uid();
    v_actor_role text := coalesce(nullif(auth.role(), ''), session_user::text);
begin
    if _deduct_credits.workspace_id is null then
        raise exception using errcode = '22023', message = 'workspace_required', detail = 'workspace_id is null';
    end if;
    -- NaN compares greater than every number in PostgreSQL, so it is named; the
    -- upper bound also refuses +Infinity, the lower one -Infinity.
    if _deduct_credits.amount is null or _deduct_credits.amount = 'NaN'::numeric
        or _deduct_credits.amount <= 0 or _deduct_credits.amount > 1e12
        or _deduct_credits.amount <> pg_catalog.round(_deduct_credits.amount, 4) then
        raise exception using
            errcode = '22023',
            message = 'invalid_amount',
            detail = pg_catalog.format('amount %s', coalesce(_deduct_credits.amount::text, 'null')),
            hint = 'amount must be greater than 0, at most 1e12, with at most 4 decimal places.';
    end if;
    if _deduct_credits.reason is null or pg_catalog.length(pg_catalog.btrim(_deduct_credits.reason)) not between 1 and 500 then
        raise exception using
            errcode = '22023', message = 'invalid_reason', hint = 'reason is required (1 to 500 characters).';
    end if;
    if _deduct_credits.idempotency_key is not null and pg_catalog.length(_deduct_credits.idempotency_key) not between 1 and 200 then
        raise exception using
            errcode = '22023', message = 'invalid_idempotency_key', hint = 'Use 1 to 200 characters.';
    end if;
    if _deduct_credits.idempotency_key is not null then
        v_replay := private._credit_replay(
            'deduct', _deduct_credits.workspace_id, _deduct_credits.amount,
            _deduct_credits.reason, _deduct_credits.idempotency_key
        );
        if v_replay is not null then
            return v_replay;
        end if;
    end if;

    if _deduct_credits.idempotency_key is null then
        -- Keyless: the debit and its ledger row in one statement. Its executor, the
        -- ledger INSERT's included, is set up before the UPDATE takes the row lock
        -- (held to commit), so under the lock only the two writes run: on one hot
        -- wallet that is what bounds throughput. No key, nothing to conflict with:
        -- a plain INSERT, without ON CONFLICT's speculative insertion.
        with debited as (
            update public.workspace_wallets as w
            set balance = w.balance - _deduct_credits.amount, updated_at = pg_catalog.now()
            where w.workspace_id = _deduct_credits.workspace_id and w.balance >= _deduct_credits.amount
            returning w.balance
        )

        insert into public.wallet_ledger (
            workspace_id, kind, amount, balance_after, reason, idempotency_key, actor_id, actor_role
        )
        select
            _deduct_credits.workspace_id,
            'deduct',
            -_deduct_credits.amount,
            d.balance,
            _deduct_credits.reason,
            null,
            v_actor_id,
            v_actor_role
        from debited as d
        returning id, balance_after into v_transaction_id, v_balance;
    else
        update public.workspace_wallets as w
        set balance = w.balance - _deduct_credits.amount, updated_at = pg_catalog.now()
        where w.workspace_id = _deduct_credits.workspace_id and w.balance >= _deduct_credits.amount
        returning w.balance into v_balance;

        if found then
            insert into public.wallet_ledger (
                workspace_id, kind, amount, balance_after, reason, idempotency_key, actor_id, actor_role
            )
            values (
                _deduct_credits.workspace_id,
                'deduct',
                -_deduct_credits.amount,
                v_balance,
                _deduct_credits.reason,
                _deduct_credits.idempotency_key,
                v_actor_id,
                v_actor_role
            )
            on conflict (workspace_id, idempotency_key) where idempotency_key is not null do nothing
            returning id into v_transaction_id;

            if v_transaction_id is null then
                -- Lost the race to a same-key call that committed first: give the amount
                -- back (the row lock is still ours) and answer that call's result.
                update public.workspace_wallets as w
                set balance = w.balance + _deduct_credits.amount
                where w.workspace_id = _deduct_credits.workspace_id;
                return private._credit_replay(
                    'deduct', _deduct_credits.workspace_id, _deduct_credits.amount,
                    _deduct_credits.reason, _deduct_credits.idempotency_key
                );
            end if;
        end if;
    end if;

    if v_transaction_id is null then
        -- Nothing debited: the wallet is short, or missing. A same-key call may have
        -- committed while this one waited for the row.
        if _deduct_credits.idempotency_key is not null then
            v_replay := private._credit_replay(
                'deduct', _deduct_credits.workspace_id, _deduct_credits.amount,
                _deduct_credits.reason, _deduct_credits.idempotency_key
            );
            if v_replay is not null then
                return v_replay;
            end if;
        end if;
        select w.balance into v_balance from public.workspace_wallets as w
        where w.workspace_id = _deduct_credits.workspace_id;
        if not found and not exists (
            select from public.workspaces as ws where ws.id = _deduct_credits.workspace_id
        ) then
            raise exception using
                errcode = 'PT404',
                message = 'workspace_not_found',
                detail = pg_catalog.format('workspace %s', _deduct_credits.workspace_id);
        end if;
        if pg_catalog.current_setting('request.path', true) like '%/rpc/deduct_credits' then
            perform private.raise_alert(
                'credits_exhausted',
                'credits_exhausted:' || _deduct_credits.workspace_id::text,
                pg_catalog.format(
                    'The workspace''s credits (%s) no longer cover its charges: a deduction of %s was refused.',
                    coalesce(v_balance, 0), _deduct_credits.amount
                ),
                _deduct_credits.workspace_id,
                'critical',
                pg_catalog.jsonb_build_object(
                    'balance', coalesce(v_balance, 0),
                    'requested', _deduct_credits.amount,
                    'reason', _deduct_credits.reason
                )
            );
            perform pg_catalog.set_config('response.status', '402', true);
            return pg_catalog.jsonb_build_object(
                'code', 'PT402',
                'message', 'insufficient_credits',
                'details', pg_catalog.format(
                    'workspace %s has %s credits, %s requested',
                    _deduct_credits.workspace_id, coalesce(v_balance, 0), _deduct_credits.amount
                ),
                'hint', 'Grant or buy credits, then retry.'
            );
        end if;
        raise exception using
            errcode = 'PT402',
            message = 'insufficient_credits',
            detail = pg_catalog.format(
                'workspace %s has %s credits, %s requested',
                _deduct_credits.workspace_id, coalesce(v_balance, 0), _deduct_credits.amount
            ),
            hint = 'Grant or buy credits, then retry.';
    end if;

    if v_balance = 0 then
        perform private.raise_alert(
            'credits_exhausted',
            'credits_exhausted:' || _deduct_credits.workspace_id::text,
            'The workspace has used all its credits; further deductions are refused.',
            _deduct_credits.workspace_id,
            'critical',
            pg_catalog.jsonb_build_object('transaction_id', v_transaction_id, 'reason', _deduct_credits.reason)
        );
    end if;

    return pg_catalog.jsonb_build_object(
        'balance', v_balance,
        'deducted', _deduct_credits.amount,
        'transaction_id', v_transaction_id,
        'duplicate', false
    );
end
$$;

comment on function private._deduct_credits(uuid, numeric, text, text) is
'Implementation of public.deduct_credits (definer: writes workspace_wallets and wallet_ledger).';
revoke all on function private._deduct_credits(uuid, numeric, text, text) from public;
grant execute on function private._deduct_credits(uuid, numeric, text, text) to service_role;

-- public.deduct_credits: the API entry point; see private._deduct_credits.
-- Who may call: service_role.
-- PL/pgSQL, not SQL: a SQL function with SET search_path is never inlined and is
-- planned again on every call; PL/pgSQL keeps its plan for the session.
create or replace function public.deduct_credits(
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
    return private._deduct_credits(
        deduct_credits.workspace_id, deduct_credits.amount, deduct_credits.reason, deduct_credits.idempotency_key
    );
exception when lock_not_available then
    -- A stuck row lock is a 503 lock_timeout (see private._lock_timeout), not a 500.
    return private._lock_timeout('deduct_credits', pg_catalog.format('workspace %s', deduct_credits.workspace_id));
end
$$;

comment on function public.deduct_credits(uuid, numeric, text, text) is
'Deduct credits atomically and idempotently: {balance, deducted, transaction_id, duplicate}; PT402 when short '
'(through PostgREST: HTTP 402 with the error body, and one credits_exhausted alert while open).';
revoke all on function public.deduct_credits(uuid, numeric, text, text) from public;
grant execute on function public.deduct_credits(uuid, numeric, text, text) to service_role;
