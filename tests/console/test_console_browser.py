"""The console in a real browser: Debian's chromium, driven by Playwright
(executable_path; nothing is downloaded), against uvicorn serving the console
on 127.0.0.1. On-call signs in with the printed token, replays a failed
delivery with a reason, flips a workspace's kill switch and acknowledges an
alert; each outcome is checked in the page and in the database.

The screenshots the README shows are taken here: set OPSDB_SCREENSHOTS to a
folder (docs/console) to keep them; otherwise they go to the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from harness.console.app import create_app
from harness.console.db import AdminDb, find_admin
from harness.console.security import Gate
from harness.console.server import free_port
from harness.rows import scalar
from tests.support.webhooks import Deliver, Ops, Sign, e164, twilio_call_status, twilio_inbound_sms

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _chromium_args() -> list[str]:
    args = ["--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # chromium's sandbox refuses to run as root
    return args


@pytest.fixture
def browser() -> Iterator[BrowserContext]:
    profile = tempfile.mkdtemp(prefix="opsdb-chromium-")  # a fresh --user-data-dir
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=_chromium_args(),
                viewport={"width": 1280, "height": 900},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def served(db_url: str, factories) -> Iterator[tuple[str, Gate, object]]:
    """uvicorn serving the console (as a new platform admin) on a free port of 127.0.0.1."""
    admin = factories.platform_admin()
    port = free_port()
    gate = Gate()
    admin_db = AdminDb(db_url, find_admin(db_url, admin.email), max_size=2)
    server = uvicorn.Server(uvicorn.Config(create_app(admin_db, gate, port), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", gate, admin
    finally:
        server.should_exit = True
        thread.join(10)
        admin_db.close()


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("OPSDB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _seed(db, factories, rpc, sign: Sign, ops: Ops, deliver: Deliver) -> dict:
    """A small, realistic platform: a workspace with usage, credits, a key, channels;
    deliveries drained as pg_cron's drain would (one failed, one still queued); open alerts."""
    ws = factories.workspace(name="Nile Dental Clinic")
    agent = ops.agent(workspace=ws, channels={"sms": None, "voice": None, "whatsapp": "106540352242922"})
    factories.connector(ws, name="HubSpot CRM")
    key = factories.api_key(ws, name="Clinic backend")
    rpc("grant_credits", {"workspace_id": str(ws.id), "amount": 500, "reason": "welcome credit"})
    rpc("deduct_credits", {"workspace_id": str(ws.id), "amount": 12.5, "reason": "calls 2026-12-01"})
    for minutes in (95, 240, 61):
        deliver(sign.twilio(twilio_call_status(agent.phone_number, e164(), duration=minutes),
                            url="https://api.example.test/webhooks/twilio/voice-status"))
    for _ in range(3):
        deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))
    ops.fail_inserts_into("sms_events", "sms_events insert failed: connection reset")
    failed = deliver(sign.twilio(twilio_inbound_sms(agent.phone_number, "+14155550123",
                                                    body="Can I move my appointment to Friday?")))
    ops.heal("sms_events")
    assert failed["status"] == "failed"
    assert rpc("ingest_webhook", sign.twilio(twilio_inbound_sms(agent.phone_number, e164())))["status"] == "queued"
    alert_ids = [
        scalar(db, "select private.raise_alert(%s, %s, %s, %s, %s)", args)
        for args in (
            ("webhook_failure", "twilio:sms", "Twilio SMS deliveries are failing", ws.id, "critical"),
            ("usage_warning", f"{ws.id}:sms", "SMS at 80% of the plan's limit", ws.id, "warning"),
        )
    ]
    return {"ws": ws, "key": key, "failed": failed["webhook_id"], "alerts": alert_ids}


def test_on_call_replays_flips_a_kill_switch_and_acknowledges_in_a_browser(
    browser: BrowserContext, served, db, factories, rpc, sign: Sign, ops: Ops, deliver: Deliver, tmp_path: Path
) -> None:
    base, gate, admin = served
    seed = _seed(db, factories, rpc, sign, ops, deliver)
    shots = _shots(tmp_path)
    page: Page = browser.new_page()
    errors: list[str] = []  # a CSP violation or a script error shows up here
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Sign in with the one-time token; the token is then spent.
    page.goto(f"{base}/login?token={gate.token}")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("#live")).to_contain_text("Twilio SMS deliveries are failing")
    expect(page.locator("#live a.st-queued")).to_contain_text("queued: 1")
    assert errors == []
    assert gate.token is None
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    # Find the failed delivery and replay it with a reason.
    page.goto(f"{base}/webhooks?status=failed")
    page.click(f"a[href='/webhooks/{seed['failed']}']")
    expect(page.locator("h1")).to_contain_text("failed")
    expect(page.locator("pre.json").nth(1)).to_contain_text('"Body": "C** I m*** m* a********** t* F******"')
    page.screenshot(path=str(shots / "webhook.png"), full_page=True)
    page.fill("form.replay input[name=reason]", "sms store recovered, INC-12")
    page.click("form.replay button")
    expect(page.locator(".flash.ok")).to_contain_text(f"webhook {seed['failed']} replayed: processed")
    expect(page.locator("h1 .badge")).to_have_text("processed")
    expect(page.locator("table").last).to_contain_text("sms store recovered, INC-12")
    assert db.execute(
        "select actor_id, reason, after ->> 'status' from public.audit_logs where action = 'webhook.replay'"
    ).fetchall() == [(admin.id, "sms store recovered, INC-12", "processed")]

    # Flip the workspace's kill switch; its API key is refused at once.
    assert rpc("authenticate_api_key", {"api_key": seed["key"].raw})["workspace_id"] == str(seed["ws"].id)
    page.goto(f"{base}/workspaces?q=nile")
    page.click("text=Nile Dental Clinic")
    expect(page.locator("h1")).to_contain_text("Nile Dental Clinic")
    page.screenshot(path=str(shots / "workspace.png"), full_page=True)
    page.select_option("form.killswitch select[name=status]", "suspended")
    page.fill("form.killswitch input[name=reason]", "chargeback fraud, INC-13")
    page.click("form.killswitch button")
    expect(page.locator("#ws-status")).to_have_text("suspended")
    assert rpc.response("authenticate_api_key", {"api_key": seed["key"].raw}).status == 401
    assert db.execute(
        "select actor_id, reason from public.audit_logs where action = 'workspace.status_changed'"
    ).fetchall() == [(admin.id, "chargeback fraud, INC-13")]

    # Acknowledge an alert with a note.
    page.goto(f"{base}/alerts")
    row = page.locator(f"#alert-{seed['alerts'][0]}")
    row.locator("input[name=note]").fill("looking into it")
    row.locator("button[value=ack]").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"alert {seed['alerts'][0]} acknowledged")
    expect(row).to_contain_text("acknowledged")
    assert db.execute(
        "select acknowledged_by, resolved_at from public.alerts where id = %s", (seed["alerts"][0],)
    ).fetchone() == (admin.id, None)
    assert db.execute(
        "select actor_id, reason from public.audit_logs where action = 'acknowledge_alert' and target_id = %s",
        (str(seed["alerts"][0]),),
    ).fetchall() == [(admin.id, "looking into it")]

    # The charts draw from the same origin (CSP): a dashboard renders its canvases.
    page.goto(f"{base}/dashboards?workspace={seed['ws'].id}&days=7")
    expect(page.locator(".charts[data-drawn=true]")).to_have_count(1)
    expect(page.locator(".chart canvas")).to_have_count(4)
    assert errors == []
