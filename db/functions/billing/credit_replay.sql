-- private._credit_replay: the answer to a repeated deduct_credits / grant_credits call.
--
-- Looks up the ledger row of the workspace's idempotency key. None: null (a new
-- request). Same kind, amount and reason: the first call's result again, with
-- duplicate = true. Anything else: PT409 idempotency_conflict. Definer code only.
create or replace function private._credit_replay(
    kind text,
    workspace_id uuid,
    amount numeric,
    reason text,
    idempotency_key text
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_entry public.wallet_ledger%rowtype;
begin
    select l.*
    into v_entry
    from public.wallet_ledger as l
    where l.workspace_id = _credit_replay.workspace_id
        and l.idempotency_key = _credit_replay.idempotency_key;
    if not found then
        return null;
    end if;
    if v_entry.kind <> _credit_replay.kind
        or pg_catalog.abs(v_entry.amount) <> _credit_replay.amount
        or v_entry.reason <> _credit_replay.reason then
        raise exception using
            errcode = 'PT409',
            message = 'idempotency_conflict',
            detail = pg_catalog.format(
                'workspace %s key %L was used by transaction %s (%s %s, reason %L)',
                v_entry.workspace_id, v_entry.idempotency_key, v_entry.id,
                v_entry.kind, pg_catalog.abs(v_entry.amount), v_entry.reason
            ),
            hint = 'Send a new idempotency key for a different request.';
    end if;
    return pg_catalog.jsonb_build_object(
        'balance', v_entry.balance_after,
        'deducted', case when v_entry.kind = 'deduct' then -v_entry.amount else 0 end,
        'granted', case when v_entry.kind = 'grant' then v_entry.amount else 0 end,
        'transaction_id', v_entry.id,
        'duplicate', true
    );
end
$$;

comment on function private._credit_replay(text, uuid, numeric, text, text) is
'First result of an idempotent credit call (null when the key is new; PT409 when the arguments differ).';
revoke all on function private._credit_replay(text, uuid, numeric, text, text) from public;

-- private._check_credit_arguments: 22023 for anything deduct/grant must refuse
-- before touching a row (the hot paths inline nothing else).
create or replace function private._check_credit_arguments(
    workspace_id uuid,
    amount numeric,
    reason text,
    idempotency_key text
)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
    if _check_credit_arguments.workspace_id is null then
        raise exception using errcode = '22023', message = 'workspace_required', detail = 'workspace_id is null';
    end if;
    -- NaN compares greater than every number in PostgreSQL, so test it by name.
    if _check_credit_arguments.amount is null or _check_credit_arguments.amount = 'NaN'::numeric
        or _check_credit_arguments.amount <= 0 or _check_credit_arguments.amount > 1e12
        or _check_credit_arguments.amount <> pg_catalog.round(_check_credit_arguments.amount, 4) then
        raise exception using
            errcode = '22023',
            message = 'invalid_amount',
            detail = pg_catalog.format('amount %s', coalesce(_check_credit_arguments.amount::text, 'null')),
            hint = 'amount must be greater than 0, at most 1e12, with at most 4 decimal places.';
    end if;
    if _check_credit_arguments.reason is null
        or pg_catalog.length(pg_catalog.btrim(_check_credit_arguments.reason)) not between 1 and 500 then
        raise exception using
            errcode = '22023', message = 'invalid_reason', hint = 'reason is required (1 to 500 characters).';
    end if;
    if _check_credit_arguments.idempotency_key is not null
        and pg_catalog.length(_check_credit_arguments.idempotency_key) not between 1 and 200 then
        raise exception using
            errcode = '22023', message = 'invalid_idempotency_key', hint = 'Use 1 to 200 characters.';
    end if;
end
$$;

comment on function private._check_credit_arguments(uuid, numeric, text, text) is
'Raise 22023 for a bad deduct/grant argument (amount <= 0, NaN, infinite, > 1e12, > 4 decimals; no reason).';
revoke all on function private._check_credit_arguments(uuid, numeric, text, text) from public;
