-- private.process_webhook: do what a verified delivery asks, by provider and
-- event type. Returns {status: processed|unknown_phone, skip_reason, ...}.
--
-- Runs inside the caller's sub-transaction: whatever it raises undoes all it
-- wrote and leaves the raw row to be marked failed. previous_status is the
-- row's status before this attempt; processed and unknown_phone mean the
-- delivery was already counted in unknown_phone (a processed Meta delivery may
-- have carried an unknown channel next to a known one), so a replay does not
-- count it again. Any other (received, failed, dead_letter) has not been counted:
-- a failed attempt's writes were undone.
create or replace function private.process_webhook(
    webhook_id bigint,
    provider text,
    event_type text,
    payload jsonb,
    previous_status text
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_count_unknown boolean := coalesce(process_webhook.previous_status not in ('processed', 'unknown_phone'), true);
    v_result jsonb;
begin
    case process_webhook.event_type
        when 'twilio.voice_status' then
            return private.process_twilio_call(process_webhook.webhook_id, process_webhook.payload, v_count_unknown);
        when 'twilio.sms' then
            return private.process_twilio_sms(process_webhook.webhook_id, process_webhook.payload, v_count_unknown);
        else
            null;
    end case;
    case process_webhook.provider
        when 'meta' then
            return private.process_meta(
                process_webhook.webhook_id, process_webhook.event_type, process_webhook.payload, v_count_unknown
            );
        when 'paymob' then
            v_result := private.process_paymob_callback(process_webhook.payload, process_webhook.webhook_id);
            return pg_catalog.jsonb_build_object('status', 'processed', 'payment', v_result);
        else
            -- Standard Webhooks events are kept, verified and deduplicated; nothing is derived from them here.
            return pg_catalog.jsonb_build_object('status', 'processed');
    end case;
end
$$;

comment on function private.process_webhook(bigint, text, text, jsonb, text) is
'Dispatch a verified delivery to its normalizer (Twilio call/SMS, Meta, Paymob); returns the outcome.';
revoke all on function private.process_webhook(bigint, text, text, jsonb, text) from public;
