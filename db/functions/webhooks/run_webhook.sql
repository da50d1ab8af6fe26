-- private.run_webhook: one processing attempt of a stored delivery, and its
-- bookkeeping on the row.
--
-- Processing runs in a sub-transaction (the exception block): if it raises,
-- everything it wrote is undone, and the row, committed with the caller's
-- transaction, says failed with the error, attempts + 1 and the next attempt
-- time (exponential backoff: 1, 2, 4, 8, ... minutes, at most an hour). When the
-- attempts are used up it goes to dead_letter, and so does a permanent error at
-- once: class 22 (data exception: the payload itself can never be processed, so
-- retrying only repeats the failure). A new dead letter is counted in the one
-- open webhook_failure alert of its provider and error (private.alert_dead_letters);
-- with alert_dead_letter false the caller does that itself, once for all its rows
-- (the sweeper). A dead-lettered row failing again on replay stays there, without
-- being counted again.
-- With verify_signature (a delivery whose signature check could not run when it
-- arrived, or a rejected one replayed), the signature and the required fields are checked first, inside the
-- same sub-transaction: a forged one ends rejected (with its alert), never processed.
-- One that passes claims its idempotency key there and then (signature_valid true,
-- webhook_queue_verified_key_idx); if a verified holder of the key exists already
-- (the genuine copy arrived and was processed meanwhile), it becomes that one's
-- duplicate instead of being processed. If processing then fails, the claim is
-- undone with it: the row stays failed and unverified, and is verified again on the
-- next attempt.
-- A processing cancelled by statement_timeout (57014: Supabase gives the API roles
-- 8 s), e.g. stuck behind a lock, is a failure like any other: the raw row is kept,
-- failed, for the sweeper. (A plain WHEN OTHERS does not catch query_canceled.)
-- With stored_as_processed (ingest_webhook's first attempt), the row was inserted
-- already saying processed with this attempt counted: a processed outcome then
-- writes nothing more, and any other outcome corrects the row, in the caller's
-- transaction (nobody else can see the row before it commits).
-- The caller holds the row (just inserted, or locked FOR UPDATE).

-- The signature gained alert_dead_letter: the old one would stay as an overload,
-- and calls by position would be ambiguous. Dropped and created in this one transaction.
drop function if exists private.run_webhook(bigint, text, text, jsonb, text, boolean, jsonb, text, text, boolean);

create or replace function private.run_webhook(
    webhook_id bigint,
    provider text,
    event_type text,
    payload jsonb,
    previous_status text,
    verify_signature boolean default false,
    headers jsonb default '{}',
    raw_body text default null,
    url text default null,
    stored_as_processed boolean default false,
    alert_dead_letter boolean default true
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_result jsonb;
    v_state text;
    v_message text;
    v_error text;
    v_status text;
    v_attempts integer;
    v_reason text;
    v_holder bigint;
    v_holder_status text;
    v_permanent boolean;
    -- 0 when the row already counts this attempt (stored_as_processed).
    v_increment constant integer := case when run_webhook.stored_as_processed then 0 else 1 end;
begin
    begin
        if run_webhook.verify_signature then
            v_reason := private.verify_webhook_signature(
                run_webhook.provider, run_webhook.payload, run_webhook.headers, run_webhook.raw_body,
                run_webhook.url
            );
            if v_reason is not null then
                v_result := pg_catalog.jsonb_build_object('status', 'rejected', 'reason', v_reason, 'signature', false);
            else
                v_reason := 'missing_required_fields: ' || (
                    private.classify_webhook(run_webhook.provider, run_webhook.payload, run_webhook.headers)
                ).missing_fields;
                if v_reason is not null then
                    v_result := pg_catalog.jsonb_build_object('status', 'rejected', 'reason', v_reason);
                end if;
            end if;
            if v_result is null then
                -- Verified: claim the key, or find who holds it. A rejected row being
                -- replayed says received (being processed) until its outcome is written
                -- below, so that it claims the key too (rejected rows claim nothing).
                begin
                    update public.webhook_queue as q
                    set signature_valid = true,
                        status = case when q.status = 'rejected' then 'received' else q.status end
                    where q.id = run_webhook.webhook_id;
                exception when unique_violation then
                    -- (This row's claim failed, so it is not the holder.)
                    select h.id, h.status
                    into v_holder, v_holder_status
                    from public.webhook_queue as r
                    cross join lateral private.webhook_key_holder(r.provider, r.idempotency_key) as h
                    where r.id = run_webhook.webhook_id;
                    if v_holder is null then
                        raise exception using
                            errcode = '40001',
                            message = 'idempotency_key_contended',
                            detail = pg_catalog.format('webhook %s', run_webhook.webhook_id),
                            hint = 'The sweeper tries it again.';
                    end if;
                    v_result := pg_catalog.jsonb_build_object(
                        'status', 'duplicate', 'original_webhook_id', v_holder, 'original_status', v_holder_status
                    );
                end;
            end if;
        end if;
        if v_result is null then
            v_result := private.process_webhook(
                run_webhook.webhook_id, run_webhook.provider, run_webhook.event_type, run_webhook.payload,
                run_webhook.previous_status
            );
        end if;
    exception when others or query_canceled then
        get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
        v_error := v_state || ': ' || v_message;
    end;

    if v_error is null then
        if run_webhook.stored_as_processed and v_result ->> 'status' = 'processed'
            and v_result ->> 'skip_reason' is null and v_result ->> 'reason' is null then
            -- The row already says exactly this.
            return v_result;
        end if;
        update public.webhook_queue as q
        set status = v_result ->> 'status',
            skip_reason = v_result ->> 'skip_reason',
            signature_valid = case
                when run_webhook.verify_signature then v_result ->> 'signature' is distinct from 'false'
                else q.signature_valid
            end,
            duplicate_of = (v_result ->> 'original_webhook_id')::bigint,
            attempts = q.attempts + v_increment,
            last_error = v_result ->> 'reason',
            next_attempt_at = null,
            processed_at = case when v_result ->> 'status' not in ('rejected', 'duplicate') then pg_catalog.now() end
        where q.id = run_webhook.webhook_id;
        if v_result ->> 'signature' = 'false' then
            perform private.alert_signature_failure(run_webhook.provider, run_webhook.webhook_id, v_reason);
        end if;
        return v_result;
    end if;

    v_permanent := v_state like '22%';
    update public.webhook_queue as q
    set status = case
            when v_permanent or q.attempts + v_increment >= q.max_attempts or q.status = 'dead_letter'
                then 'dead_letter'
            else 'failed'
        end,
        attempts = q.attempts + v_increment,
        last_error = v_error,
        next_attempt_at = case
            when not v_permanent and q.attempts + v_increment < q.max_attempts and q.status <> 'dead_letter'
                then pg_catalog.now()
                + least(interval '1 minute' * pg_catalog.power(2, q.attempts + v_increment - 1), interval '1 hour')
        end,
        processed_at = case when run_webhook.stored_as_processed then null else q.processed_at end
    where q.id = run_webhook.webhook_id
    returning q.status, q.attempts into v_status, v_attempts;

    if v_status = 'dead_letter' and run_webhook.previous_status is distinct from 'dead_letter'
        and run_webhook.alert_dead_letter then
        perform private.alert_dead_letters(array[run_webhook.webhook_id]);
    end if;
    return pg_catalog.jsonb_build_object(
        'status', v_status, 'error', v_error, 'attempts', v_attempts, 'permanent', v_permanent
    );
end
$$;

comment on function private.run_webhook(
    bigint, text, text, jsonb, text, boolean, jsonb, text, text, boolean, boolean
) is
'Process a stored delivery in a sub-transaction and record the outcome (processed, duplicate of a verified holder, '
'failed with backoff, dead_letter after the last attempt or at once for a class 22 error).';
revoke all on function private.run_webhook(
    bigint, text, text, jsonb, text, boolean, jsonb, text, text, boolean, boolean
) from public;
