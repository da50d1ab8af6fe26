-- opsdb:destructive the private helpers renamed by the naming rule; db/functions defines the new names
-- The naming rule: private._x implements exactly public.x; every other private
-- function is named for what it does, without a leading underscore. These are the
-- helpers' old names. The migration runs just before db/functions re-creates
-- every function under its new name (the same deployment, well under a second),
-- and no view, policy, trigger or default depends on them.
drop function if exists private._activate_payment(uuid, text);
drop function if exists private._alert_change(bigint, text, boolean);
drop function if exists private._alert_dead_letters(bigint[]);
drop function if exists private._alert_retention_backlog(bigint, text[]);
drop function if exists private._alert_signature_failure(text, bigint, text);
drop function if exists private._billing_line_items(uuid, date);
drop function if exists private._claim_webhooks(text, integer);
drop function if exists private._classify_webhook(text, jsonb, jsonb);
drop function if exists private._constant_time_equals(bytea, bytea);
drop function if exists private._conversations_masked();
drop function if exists private._credit_replay(text, uuid, numeric, text, text);
drop function if exists private._drain_webhook_batch(integer);
drop function if exists private._drop_policies(regclass);
drop function if exists private._ensure_usage_period(uuid, date);
drop function if exists private._job_one_transaction(text);
drop function if exists private._job_run_finish(bigint, jsonb, jsonb, integer);
drop function if exists private._job_run_start(text, jsonb, boolean);
drop function if exists private._job_step_error(text, text, text);
drop function if exists private._lock_timeout(text, text);
drop function if exists private._mask_webhook_json(jsonb, boolean);
drop function if exists private._messages_masked();
drop function if exists private._note_unknown_phone(text, text, text, bigint, boolean);
drop function if exists private._paymob_hmac_message(jsonb);
drop function if exists private._process_meta(bigint, text, jsonb, boolean);
drop function if exists private._process_twilio_call(bigint, jsonb, boolean);
drop function if exists private._process_twilio_sms(bigint, jsonb, boolean);
drop function if exists private._process_webhook(bigint, text, text, jsonb, text);
drop function if exists private._raise_usage_alerts(uuid, text, date);
drop function if exists private._record_api_auth_failure(text, text, uuid, uuid);
drop function if exists private._reopen_usage_alert(bigint);
drop function if exists private._replay_locked_webhook(bigint, text);
drop function if exists private._resolve_agent_number(text, text);
drop function if exists private._resolve_channel(text, text);
drop function if exists private._retention_step(
    text, timestamp with time zone, integer, timestamp with time zone, bigint, bigint
);
drop function if exists private._retention_table(text);
drop function if exists private._run_webhook(
    bigint, text, text, jsonb, text, boolean, jsonb, text, text, boolean, boolean
);
drop function if exists private._sms_events_masked();
drop function if exists private._store_chat_message(
    uuid, uuid, uuid, text, text, text, text, text, text, text, jsonb, timestamp with time zone
);
drop function if exists private._take_tier_snapshot(uuid, text, date, text, text);
drop function if exists private._try_timestamptz(text);
drop function if exists private._twilio_signature(text, text, jsonb, text);
drop function if exists private._usage_alert_of(uuid, text);
drop function if exists private._usage_batch_add(uuid[], text[], numeric[], boolean[], date);
drop function if exists private._usage_batch_insert_events(
    uuid[], text[], numeric[], text[], text[], timestamp with time zone[], boolean[], uuid[], text[], bigint[], date,
    timestamp with time zone
);
drop function if exists private._usage_batch_lock_rows(uuid[], text[], date);
drop function if exists private._usage_batch_parse(jsonb, date, timestamp with time zone);
drop function if exists private._usage_period();
drop function if exists private._verify_meta_signature(jsonb, jsonb, text);
drop function if exists private._verify_standard_webhook(jsonb, jsonb, text);
drop function if exists private._verify_twilio_signature(jsonb, jsonb, text, text);
drop function if exists private._verify_webhook_signature(text, jsonb, jsonb, text, text);
drop function if exists private._webhook_error_key(text);
drop function if exists private._webhook_key_holder(text, text);
drop function if exists private._webhook_signature_material(text, jsonb);
drop function if exists private._webhooks_backend_caller();
drop function if exists private._webhooks_record_usage(uuid, text, numeric, text, text);
drop function if exists private._weekly_insight_change(numeric, numeric);
drop function if exists private._weekly_insight_figures_all(date);
