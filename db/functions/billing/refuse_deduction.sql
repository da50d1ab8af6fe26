-- private.refuse_deduction: the answer to a deduct_credits that debited nothing:
-- PT404 workspace_not_found when there is no such workspace, else PT402
-- insufficient_credits. When deduct_credits is the request itself (PostgREST,
-- request.path /rpc/deduct_credits), the refusal raises the credits_exhausted alert
-- and returns PostgREST's error body with response.status 402 instead of raising:
-- a raised error would roll the alert back. Definer code only (deduct_credits).
create or replace function private.refuse_deduction(workspace_id uuid, amount numeric, reason text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_balance numeric;
begin
    select w.balance into v_balance from public.workspace_wallets as w
    where w.workspace_id = refuse_deduction.workspace_id;
    if not found and not exists (
        select from public.workspaces as ws where ws.id = refuse_deduction.workspace_id
    ) then
        raise exception using
            errcode = 'PT404',
            message = 'workspace_not_found',
            detail = pg_catalog.format('workspace %s', refuse_deduction.workspace_id);
    end if;
    if pg_catalog.current_setting('request.path', true) like '%/rpc/deduct_credits' then
        perform private.raise_alert(
            'credits_exhausted',
            'credits_exhausted:' || refuse_deduction.workspace_id::text,
            pg_catalog.format(
                'The workspace''s credits (%s) no longer cover its charges: a deduction of %s was refused.',
                coalesce(v_balance, 0), refuse_deduction.amount
            ),
            refuse_deduction.workspace_id,
            'critical',
            pg_catalog.jsonb_build_object(
                'balance', coalesce(v_balance, 0),
                'requested', refuse_deduction.amount,
                'reason', refuse_deduction.reason
            )
        );
        perform pg_catalog.set_config('response.status', '402', true);
        return pg_catalog.jsonb_build_object(
            'code', 'PT402',
            'message', 'insufficient_credits',
            'details', pg_catalog.format(
                'workspace %s has %s credits, %s requested',
                refuse_deduction.workspace_id, coalesce(v_balance, 0), refuse_deduction.amount
            ),
            'hint', 'Grant or buy credits, then retry.'
        );
    end if;
    raise exception using
        errcode = 'PT402',
        message = 'insufficient_credits',
        detail = pg_catalog.format(
            'workspace %s has %s credits, %s requested',
            refuse_deduction.workspace_id, coalesce(v_balance, 0), refuse_deduction.amount
        ),
        hint = 'Grant or buy credits, then retry.';
end
$$;

comment on function private.refuse_deduction(uuid, numeric, text) is
'Refuse a deduction that debited nothing: PT404 or PT402, or over HTTP the 402 body with its credits_exhausted alert.';
revoke all on function private.refuse_deduction(uuid, numeric, text) from public;
