"""The database functions the console acts and reads through: the channel and
connector kill switches with a reason, run_job, the masked delivery detail and
the bulk-replay dry run. Each is the API a platform admin has without the console."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from harness import pgcron, project
from harness.rows import scalar
from harness.rpc import RpcError
from tests.support.webhooks import Deliver, Ops, Sign, e164, twilio_inbound_sms, whatsapp_message

def _audit(db, action: str) -> list[tuple]:
    return db.execute(
        "select actor_id, actor_role, target_id, reason, before, after from public.audit_logs"
        " where action = %s order by id",
        (action,),
    ).fetchall()


def test_channel_kill_switch_is_audited_with_its_reason(rpc, factories, db) -> None:
    ws = factories.workspace()
    channel = factories.channel(ws)
    admin = factories.platform_admin()

    off = rpc("set_channel_active", {"channel_id": str(channel.id), "is_active": False, "reason": "INC-7 spam"}, as_=admin.jwt)
    again = rpc("set_channel_active", {"channel_id": str(channel.id), "is_active": False, "reason": "again"}, as_=admin.jwt)

    assert (off["is_active"], off["previous"], off["changed"]) == (False, True, True)
    assert again["changed"] is False
    assert scalar(db, "select is_active from public.agent_channels where id = %s", (channel.id,)) is False
    assert _audit(db, "channel.deactivated") == [
        (admin.id, "authenticated", str(channel.id), "INC-7 spam", {"is_active": True}, {"is_active": False})
    ]


def test_connector_kill_switch_is_audited_and_workspace_admins_may_flip_it(rpc, factories, db) -> None:
    ws = factories.workspace()
    connector = factories.connector(ws)

    rpc("set_connector_active", {"connector_id": str(connector.id), "is_active": False, "reason": "sync loop"}, as_=ws.owner.jwt)
    back = rpc("set_connector_active", {"connector_id": str(connector.id), "is_active": True, "reason": "fixed"}, as_=ws.owner.jwt)

    assert back["changed"] is True and back["is_active"] is True
    assert [r[3] for r in _audit(db, "connector.deactivated") + _audit(db, "connector.activated")] == ["sync loop", "fixed"]


def test_kill_switch_refuses_outsiders_and_a_missing_reason(rpc, factories, db) -> None:
    ws = factories.workspace()
    channel = factories.channel(ws)
    outsider = factories.member(factories.workspace(), "admin")
    member = factories.member(ws, "member")

    for caller in (outsider, member):
        with pytest.raises(RpcError) as err:
            rpc("set_channel_active", {"channel_id": str(channel.id), "is_active": False, "reason": "x"}, as_=caller.jwt)
        assert (err.value.sqlstate, err.value.message) == ("PT404", "channel_not_found")
    with pytest.raises(RpcError) as err:
        rpc("set_channel_active", {"channel_id": str(channel.id), "is_active": False, "reason": " "}, as_=ws.owner.jwt)
    assert (err.value.sqlstate, err.value.message) == ("22023", "reason_required")
    with pytest.raises(RpcError) as err:
        rpc("set_channel_active", {"channel_id": str(channel.id), "is_active": False, "reason": "x"}, as_="anon")
    assert err.value.sqlstate == "42501"
    assert scalar(db, "select is_active from public.agent_channels where id = %s", (channel.id,)) is True
    assert _audit(db, "channel.deactivated") == []


def _cron_jobs() -> dict[str, str]:
    """Every job db/cron/ schedules, by pg_cron name, with its command as the file writes it."""
    return {job.name: job.command for job in pgcron.file_jobs(project.db_dir() / "cron")}


def test_run_job_runs_the_cron_command_as_the_admin_and_audits_it(rpc, factories, db) -> None:
    admin = factories.platform_admin()

    result = rpc("run_job", {"job_name": "reconciliation"}, as_=admin.jwt)

    run = db.execute(
        "select job_name, status, started_by, started_by_role from public.job_runs order by id desc limit 1"
    ).fetchone()
    assert run == ("reconciliation", "succeeded", admin.id, "authenticated")
    assert result["job_name"] == "reconciliation"
    assert result["command"] == _cron_jobs()["reconciliation"]
    assert result["result"]["run_reconciliation"]["job_run_id"] is not None
    assert [(r[0], r[5]) for r in _audit(db, "job.run_now")] == [
        (admin.id, {"job_name": "reconciliation", "command": result["command"]})
    ]


def test_run_job_refuses_non_admins_and_unknown_jobs(rpc, factories, db) -> None:
    ws = factories.workspace()
    with pytest.raises(RpcError) as err:
        rpc("run_job", {"job_name": "reconciliation"}, as_=ws.owner.jwt)
    assert (err.value.sqlstate, err.value.message) == ("42501", "not_allowed")
    with pytest.raises(RpcError) as err:
        rpc("run_job", {"job_name": "drop_everything"}, as_=factories.platform_admin().jwt)
    assert (err.value.sqlstate, err.value.message) == ("22023", "unknown_job")
    assert scalar(db, "select count(*) from public.job_runs") == 0
    assert _audit(db, "job.run_now") == []


def test_run_job_knows_every_job_of_db_cron(db) -> None:
    """The jobs run_job may run are exactly db/cron/'s, and the database schedules them as the files say."""
    files = _cron_jobs()
    assert files, "no jobs in db/cron/"
    listed = [r[0] for r in db.execute("select job_name from private.cron_jobs").fetchall()]
    assert sorted(listed) == sorted(files)
    scheduled = dict(db.execute("select jobname, command from cron.job where jobname = any(%s)", (listed,)).fetchall())
    assert scheduled == files


def test_run_job_refuses_a_cron_job_the_project_did_not_schedule(rpc, factories, db) -> None:
    db.execute("select cron.schedule('someone-elses-job', '0 0 * * *', 'select 1')")
    with pytest.raises(RpcError) as err:
        rpc("run_job", {"job_name": "someone-elses-job"}, as_=factories.platform_admin().jwt)
    assert (err.value.sqlstate, err.value.message) == ("22023", "unknown_job")
    assert _audit(db, "job.run_now") == []


def test_run_job_runs_every_job_of_db_cron(rpc, sign: Sign, ops: Ops, factories, db) -> None:
    """Statement jobs run pg_cron's own command; procedure jobs (CALL) their one-transaction form."""
    queued = rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(ops.agent().phone_number, e164())))
    assert queued["status"] == "queued"
    admin = factories.platform_admin()

    for name, command in _cron_jobs().items():
        result = rpc("run_job", {"job_name": name.replace("-", "_")}, as_=admin.jwt)
        if command.lstrip().lower().startswith("call "):
            form = scalar(db, "select private.job_one_transaction(%s)", (command,))
            assert form is not None and form.startswith("select "), name
            assert result["command"] == form, name
        else:
            assert result["command"] == command, name
        assert result["result"] is not None, name

    status = db.execute("select status from public.webhook_queue where id = %s", (queued["webhook_id"],)).fetchone()
    assert status == ("processed",)  # the drain's one batch processed the queued delivery
    assert len(_audit(db, "job.run_now")) == len(_cron_jobs())
    failed = db.execute("select job_name, errors from public.job_runs where status <> 'succeeded'").fetchall()
    assert failed == []
    assert scalar(db, "select count(*) from public.job_runs where started_by = %s", (admin.id,)) >= 5


def test_run_job_refuses_a_procedure_job_without_a_one_transaction_form(rpc, factories, db) -> None:
    db.execute(
        "update cron.job set command = 'call private.drain_webhooks_continuously(seconds => 5)'"
        " where jobname = 'webhook-drain'"
    )
    with pytest.raises(RpcError) as err:
        rpc("run_job", {"job_name": "webhook_drain"}, as_=factories.platform_admin().jwt)
    assert (err.value.sqlstate, err.value.message) == ("22023", "job_needs_pg_cron")
    assert _audit(db, "job.run_now") == []


def test_run_job_refuses_a_job_pg_cron_does_not_schedule(rpc, factories, db) -> None:
    db.execute("delete from cron.job where jobname = 'weekly-insights'")
    with pytest.raises(RpcError) as err:
        rpc("run_job", {"job_name": "weekly_insights"}, as_=factories.platform_admin().jwt)
    assert (err.value.sqlstate, err.value.message) == ("PT404", "job_not_scheduled")
    assert scalar(db, "select count(*) from public.job_runs") == 0
    assert _audit(db, "job.run_now") == []


def test_webhook_delivery_masks_pii_and_hides_signatures(rpc, sign: Sign, ops: Ops, factories) -> None:
    agent = ops.agent(channels={"sms": None, "whatsapp": "106540352242922"})
    sender = e164()
    sms = rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, sender, body="My card is 4111")))
    chat = rpc("ingest_webhook", sign.meta(whatsapp_message("106540352242922", wa_from="16505551234", text="Call me")))
    admin = factories.platform_admin()

    detail = rpc("webhook_delivery", {"webhook_id": sms["webhook_id"]}, as_=admin.jwt)
    payload = detail["payload"]
    assert payload["From"] == sender[0] + "*" * (len(sender) - 1)
    assert payload["Body"] == "M* c*** i* 4***"
    assert payload["FromCity"] == "S** F********"
    assert payload["MessageSid"] == ops.webhook(sms["webhook_id"])["payload"]["MessageSid"]  # ids stay readable
    assert payload["SmsStatus"] == "received"
    assert {k.lower(): v for k, v in detail["headers"].items()}["x-twilio-signature"] == "***"
    assert detail["raw_body_bytes"] > 0 and "raw_body" not in detail
    assert detail["status"] == "queued" and detail["history"] == []  # acknowledged; the drain processes it

    value = rpc("webhook_delivery", {"webhook_id": chat["webhook_id"]}, as_=admin.jwt)["payload"]["entry"][0][
        "changes"
    ][0]["value"]
    assert value["contacts"][0] == {"profile": {"name": "S***** N*****"}, "wa_id": "1**********"}
    assert value["messages"][0]["text"] == {"body": "C*** m*"}
    assert value["messages"][0]["type"] == "text"


def test_webhook_delivery_is_for_platform_admins(rpc, sign: Sign, ops: Ops, factories) -> None:
    agent = ops.agent()
    sms = rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    owner = factories.workspace().owner
    with pytest.raises(RpcError) as err:
        rpc("webhook_delivery", {"webhook_id": sms["webhook_id"]}, as_=owner.jwt)
    assert (err.value.sqlstate, err.value.message) == ("42501", "not_allowed")
    with pytest.raises(RpcError) as err:
        rpc("webhook_delivery", {"webhook_id": 987654321}, as_=factories.platform_admin().jwt)
    assert (err.value.sqlstate, err.value.message) == ("PT404", "webhook_not_found")


def test_replay_preview_counts_what_the_bulk_replay_then_replays(
    rpc, sign: Sign, ops: Ops, deliver: Deliver, factories
) -> None:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events", "sms store is down")
    ids = [deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))["webhook_id"] for _ in range(3)]
    ops.heal("sms_events")
    admin = factories.platform_admin()
    window = {
        "status": "failed",
        "provider": "twilio",
        "received_after": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(),
        "max_count": 2,
    }

    preview = rpc("preview_replay_webhooks", window, as_=admin.jwt)
    assert (preview["would_replay"], preview["matching"], preview["capped"]) == (2, 3, True)
    assert preview["by_provider"] == {"twilio": 2}
    assert [ops.webhook(i)["status"] for i in ids] == ["failed"] * 3  # the dry run changed nothing

    replayed = rpc("replay_webhooks", {**window, "reason": "sms store back"}, as_=admin.jwt)
    assert replayed["replayed"] == preview["would_replay"]
    assert rpc("preview_replay_webhooks", window, as_=admin.jwt)["would_replay"] == 1


def test_replay_preview_validates_like_the_replay_and_refuses_tenants(rpc, factories) -> None:
    admin = factories.platform_admin()
    for args, word in (
        ({"status": "rejected"}, "invalid_status"),
        ({"provider": "fax"}, "unknown_provider"),
        ({"max_count": 0}, "invalid_max_count"),
        ({"received_after": "2026-11-02T00:00Z", "received_before": "2026-11-01T00:00Z"}, "invalid_time_range"),
    ):
        with pytest.raises(RpcError) as err:
            rpc("preview_replay_webhooks", args, as_=admin.jwt)
        assert (err.value.sqlstate, err.value.message) == ("22023", word)
    with pytest.raises(RpcError) as err:
        rpc("preview_replay_webhooks", {}, as_=factories.workspace().owner.jwt)
    assert err.value.sqlstate == "42501"


def test_list_webhooks_pages_by_keyset_and_filters_by_workspace(
    rpc, sign: Sign, ops: Ops, deliver: Deliver, factories
) -> None:
    mine, other = ops.agent(), ops.agent()
    ids = [deliver(sign.twilio(twilio_inbound_sms(mine.phone_number, e164())))["webhook_id"] for _ in range(5)]
    deliver(sign.twilio(twilio_inbound_sms(other.phone_number, e164())))
    admin = factories.platform_admin()
    args = {"workspace_id": str(mine.workspace_id), "status": "processed", "max_count": 2}

    seen, pages = [], 0
    page = rpc("list_webhooks", args, as_=admin.jwt)
    while True:
        pages += 1
        seen += [w["webhook_id"] for w in page["webhooks"]]
        if page["next"] is None:
            break
        page = rpc("list_webhooks", {**args, **page["next"]}, as_=admin.jwt)

    assert seen == sorted(ids, reverse=True) and pages == 3
    with pytest.raises(RpcError) as err:
        rpc("list_webhooks", {}, as_=mine_owner(factories, ops, mine))
    assert err.value.sqlstate == "42501"
    with pytest.raises(RpcError) as err:
        rpc("list_webhooks", {"before_id": 3}, as_=admin.jwt)
    assert (err.value.sqlstate, err.value.message) == ("22023", "invalid_cursor")


def mine_owner(factories, ops: Ops, agent) -> object:
    owner = ops.scalar("select owner_id from public.workspaces where id = %s", agent.workspace_id)
    email = ops.scalar("select email from auth.users where id = %s", owner)
    from harness.rpc import user

    return user(owner, email)
