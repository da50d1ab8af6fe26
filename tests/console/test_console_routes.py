"""The console's pages and actions, driven in-process: every action goes through the
project's audited functions as the signed-in admin, and lists page by keyset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness.console import keyset
from harness.rows import scalar
from tests.jobs.test_weekly_insights import at, call, message, sms
from tests.support.console import Console
from tests.support.webhooks import Deliver, Ops, Sign, e164, twilio_inbound_sms


def _actor_of(db, action: str) -> list[tuple]:
    return db.execute(
        "select actor_id, actor_role, reason from public.audit_logs where action = %s order by id", (action,)
    ).fetchall()


def test_every_page_renders(console: Console, factories, rpc, sign: Sign, ops: Ops, deliver: Deliver) -> None:
    agent = ops.agent()
    webhook = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    queued = rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    assert queued["status"] == "queued"
    rpc("run_reconciliation", {"period_start": "2026-11-01", "period_end": "2026-11-02"})
    run_id = console.db.call("run_job", {"job_name": "retention_cleanup"})  # one job run to list
    assert run_id
    console.sign_in()
    pages = {
        "/": "Open alerts",
        "/alerts?state=all": "Alerts",
        "/webhooks?status=processed&provider=twilio": f'href="/webhooks/{webhook["webhook_id"]}"',
        f"/webhooks/{webhook['webhook_id']}": "PII masked",
        "/workspaces": "Workspaces",
        f"/workspaces/{agent.workspace_id}": "Kill switch",
        "/jobs": "retention_cleanup",
        "/reconciliation": "2026-11-01",
        "/dashboards": "Calls per day",
        "/readiness": "Running the audit",
        "/readiness/report": "Security",
        "/overview/live": "Monitoring signals",
    }
    queued_pages = {  # a queued delivery (acknowledged, waiting for the drain) is shown as such
        "/overview/live": 'href="/webhooks?status=queued" class="backlog st-queued">queued: 1 (oldest',
        "/webhooks?status=queued": f'href="/webhooks/{queued["webhook_id"]}"',
        f"/webhooks/{queued['webhook_id']}": "not yet: acknowledged and queued for the webhook drain",
    }
    for path, marker in pages.items():
        response = console.client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        assert marker in response.text, path
    for path, marker in queued_pages.items():
        assert marker in console.client.get(path).text, path
    data = console.client.get(f"/dashboards/data?workspace={agent.workspace_id}&days=7").json()
    assert len(data["days"]) == 7 and set(data) >= {"calls", "sms_inbound", "errors"}


def test_dashboards_count_sms_and_messages_for_the_admin(console: Console, factories, db) -> None:
    """SMS and message rows are members-only: the admin's series come from platform_daily_metrics' counts."""
    a, b = factories.workspace(), factories.workspace()
    day = datetime.now(UTC).date() - timedelta(days=2)  # inside the 7 days shown, even past a midnight
    for ws, n in ((a, 1), (b, 2)):
        for _ in range(n):
            sms(db, ws, "received", "inbound", at(day))
            sms(db, ws, "sent", "outbound", at(day))
            message(db, factories, ws, "outbound", at(day))
    call(db, a, "failed", at(day))
    db.execute("select private.fold_dashboard_rollups()")  # a reading; the events stay above the watermark
    console.sign_in()

    every = console.client.get("/dashboards/data?days=7").json()
    one = console.client.get(f"/dashboards/data?workspace={b.id}&days=7").json()

    i = every["days"].index(day.isoformat())
    assert [every[s][i] for s in ("sms_inbound", "sms_outbound", "messages_outbound", "calls", "errors")] == [3, 3, 3, 1, 1]
    assert [one[s][i] for s in ("sms_inbound", "sms_outbound", "messages_outbound", "calls")] == [2, 2, 2, 0]
    assert sum(every["sms_inbound"]) == 3 and sum(one["messages_inbound"]) == 0


def test_kill_switch_from_the_console_is_audited_as_the_admin(console: Console, factories, db) -> None:
    ws = factories.workspace()
    csrf = console.sign_in()

    response = console.post(f"/workspaces/{ws.id}/status", {"status": "suspended", "reason": "INC-9 fraud"}, csrf)

    assert response.status_code == 303
    assert scalar(db, "select status from public.workspaces where id = %s", (ws.id,)) == "suspended"
    assert _actor_of(db, "workspace.status_changed") == [(console.admin.id, "authenticated", "INC-9 fraud")]
    assert "workspace is now suspended" in console.client.get("/").text  # the flash message


def test_a_refused_action_shows_the_reason_and_changes_nothing(console: Console, factories, db) -> None:
    ws = factories.workspace()
    csrf = console.sign_in()
    console.post(f"/workspaces/{ws.id}/status", {"status": "suspended", "reason": ""}, csrf)
    assert "reason_required" in console.client.get("/").text
    assert scalar(db, "select status from public.workspaces where id = %s", (ws.id,)) == "active"


def test_keys_channels_connectors_and_jobs_act_through_their_functions(console: Console, factories, db) -> None:
    ws = factories.workspace()
    key = factories.api_key(ws)
    channel = factories.channel(ws)
    connector = factories.connector(ws)
    csrf = console.sign_in()

    console.post(f"/keys/{key.id}/revoke", {"reason": "leaked"}, csrf)
    console.post(f"/channels/{channel.id}/active", {"is_active": "false", "reason": "spam"}, csrf)
    console.post(f"/connectors/{connector.id}/active", {"is_active": "false", "reason": "loop"}, csrf)
    console.post("/jobs/weekly_insights/run", {}, csrf)

    assert db.execute("select status, revoked_by from public.workspace_api_keys where id = %s", (key.id,)).fetchone() == (
        "revoked", console.admin.id
    )
    assert _actor_of(db, "channel.deactivated") == [(console.admin.id, "authenticated", "spam")]
    assert _actor_of(db, "connector.deactivated") == [(console.admin.id, "authenticated", "loop")]
    assert scalar(
        db,
        "select started_by from public.job_runs where job_name = 'weekly_insights'"
    ) == console.admin.id
    assert _actor_of(db, "job.run_now") == [(console.admin.id, "authenticated", None)]


def test_alerts_are_acknowledged_and_resolved_with_a_note_as_the_admin(console: Console, db) -> None:
    """Through public.acknowledge_alert and public.resolve_alert (alert_id, note), audited as the admin."""
    first, second = (
        scalar(db, "select private.raise_alert(%s, %s, %s)", (kind, key, "msg"))
        for kind, key in (("webhook_failure", "twilio:sms"), ("job_failure", "reconciliation"))
    )
    csrf = console.sign_in()

    console.post(f"/alerts/{first}/acknowledge", {"note": "on it"}, csrf)
    console.post(f"/alerts/{second}/resolve", {"note": "provider fixed it"}, csrf)

    rows = db.execute(
        "select id, acknowledged_by, resolved_by, resolution from public.alerts order by id"
    ).fetchall()
    assert rows == [
        (first, console.admin.id, None, None),
        (second, console.admin.id, console.admin.id, "provider fixed it"),
    ]
    assert _actor_of(db, "acknowledge_alert") == [(console.admin.id, "authenticated", "on it")]
    assert _actor_of(db, "resolve_alert") == [(console.admin.id, "authenticated", "provider fixed it")]
    assert "provider fixed it" in console.client.get("/alerts?state=resolved").text


def test_bulk_replay_needs_the_dry_run_count_confirmed(
    console: Console, sign: Sign, ops: Ops, deliver: Deliver, db
) -> None:
    agent = ops.agent()
    ops.fail_inserts_into("sms_events", "sms store is down")
    for _ in range(3):
        deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    ops.heal("sms_events")
    csrf = console.sign_in()
    filters = {"status": "failed", "provider": "twilio", "max_count": "10"}

    preview = console.client.post("/webhooks/bulk/preview", data=filters, headers={"X-CSRF-Token": csrf})
    assert preview.status_code == 200 and '<strong id="would-replay">3</strong>' in preview.text

    console.post("/webhooks/bulk/replay", {**filters, "reason": "store back", "confirm": "2"}, csrf)
    assert scalar(db, "select count(*) from public.webhook_queue where status = 'failed'") == 3
    assert "not replayed" in console.client.get("/").text

    console.post("/webhooks/bulk/replay", {**filters, "reason": "store back", "confirm": "3"}, csrf)
    assert scalar(db, "select count(*) from public.webhook_queue where status = 'processed'") == 3
    assert _actor_of(db, "webhook.bulk_replay") == [(console.admin.id, "authenticated", "store back")]


def test_lists_page_by_keyset_without_overlap(console: Console, factories) -> None:
    for i in range(keyset.PAGE_SIZE + 5):
        factories.workspace(name=f"Keyset clinic {i:03d}")
    console.sign_in()

    first = console.client.get("/workspaces?q=keyset clinic").text
    cursor = first.split("after=")[1].split('"')[0]
    second = console.client.get(f"/workspaces?q=keyset%20clinic&after={cursor}").text

    names = lambda html: [part.split("<")[0] for part in html.split("Keyset clinic ")[1:]]  # noqa: E731
    assert names(first) == [f"{i:03d}" for i in range(keyset.PAGE_SIZE)]
    assert names(second) == [f"{i:03d}" for i in range(keyset.PAGE_SIZE, keyset.PAGE_SIZE + 5)]
    assert "after=" not in second
