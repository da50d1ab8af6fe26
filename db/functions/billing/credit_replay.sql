-- private.credit_replay: the answer to a repeated deduct_credits / grant_credits call.
--
-- Looks up the ledger row of the workspace's idempotency key. None: null (a new
-- request). Same kind, amount and reason: the first call's result again, with
-- duplicate = true. Anything else: PT409 idempotency_conflict. Definer code only.
create or replace function private.credit_replay(
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
    where l.workspace_id = credit_replay.workspace_id
        and l.idempotency_key = credit_replay.idempotency_key;
    if not found then
        return null;
    end if;
    if v_entry.kind <> credit_replay.kind
        or pg_catalog.abs(v_entry.amount) <> credit_replay.amount
        or v_entry.reason <> credit_replay.reason then
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

comment on function private.credit_replay(text, uuid, numeric, text, text) is
'First result of an idempotent credit call (null when the key is new; PT409 when the arguments differ).';
revoke all on function private.credit_replay(text, uuid, numeric, text, text) from public;
