"""The console's security rules: only a platform admin starts it; a one-time token,
compared in constant time, opens an expiring session; every form needs its CSRF
token; a Content-Security-Policy without inline script; the right Host only."""

from __future__ import annotations

import re

import pytest

from harness.cli import main
from harness.console.db import NotAdmin, find_admin
from harness.console.security import Gate
from harness.rows import scalar
from tests.support.console import Console


def test_a_non_admin_is_refused_and_the_console_does_not_start(db_url, factories, capsys) -> None:
    member = factories.member(factories.workspace(), "owner")
    support = factories.support()
    for email in (member.email, support.email, "nobody@example.test"):
        with pytest.raises(NotAdmin):
            find_admin(db_url, email)
        assert main(["console", "--database-url", db_url, "--as", email, "--port", "1"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("opsdb console: ") and ("not a platform admin" in err or "no user" in err)


def test_a_request_without_a_session_is_refused(console: Console) -> None:
    for path in ("/", "/webhooks", "/workspaces", "/dashboards/data"):
        assert console.client.get(path).status_code == 401
    response = console.client.post("/jobs/retention_cleanup/run", data={"csrf": "x"})
    assert response.status_code == 401


def test_the_token_is_one_time_and_a_wrong_one_opens_nothing(console: Console) -> None:
    token = console.gate.token
    assert token and len(token) >= 40
    assert console.client.get(f"/login?token={token[:-1]}x", follow_redirects=False).status_code == 401
    assert console.client.get("/login", follow_redirects=False).status_code == 401
    first = console.client.get(f"/login?token={token}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert console.client.get("/").status_code == 200
    console.client.cookies.clear()
    assert console.client.get(f"/login?token={token}", follow_redirects=False).status_code == 401  # spent
    assert console.client.get("/").status_code == 401


def test_a_session_expires_when_idle_and_at_its_end(console: Console) -> None:
    console.sign_in()
    session_id = console.client.cookies.get("opsdb_console")
    assert session_id is not None
    console.gate.age(session_id, 31 * 60)
    assert console.client.get("/").status_code == 401

    gate = Gate(idle_minutes=30, max_hours=12)
    s = gate.exchange(gate.token)
    assert s is not None and gate.session(s.id) is s
    gate.age(s.id, 12 * 3600 + 1)
    assert gate.session(s.id) is None


def test_a_forged_or_missing_csrf_token_is_refused_and_changes_nothing(console: Console, factories, db) -> None:
    console.sign_in()
    ws = factories.workspace()
    for data in ({"status": "suspended", "reason": "x", "csrf": "forged"}, {"status": "suspended", "reason": "x"}):
        response = console.client.post(f"/workspaces/{ws.id}/status", data=data, follow_redirects=False)
        assert response.status_code == 403
    response = console.client.post(
        f"/workspaces/{ws.id}/status", data={"status": "suspended", "reason": "x"},
        headers={"X-CSRF-Token": "forged"}, follow_redirects=False,
    )
    assert response.status_code == 403
    assert scalar(db, "select status from public.workspaces where id = %s", (ws.id,)) == "active"
    assert scalar(db, "select count(*) from public.audit_logs where action like 'workspace.%'") == 0


def test_every_page_has_a_strict_csp_and_no_inline_script(console: Console, factories) -> None:
    console.sign_in()
    ws = factories.workspace()
    for path in ("/", "/alerts", "/webhooks", "/workspaces", f"/workspaces/{ws.id}", "/jobs", "/reconciliation",
                 "/dashboards", "/readiness"):
        response = console.client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {path}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler on {path}"
        assert not re.search(r"\sstyle\s*=", html), f"inline style on {path}"
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S):
            assert 'name="csrf"' in form, f"a form without its CSRF token on {path}"


def test_a_foreign_host_header_is_refused(console: Console) -> None:
    console.sign_in()
    assert console.client.get("/", headers={"host": "attacker.example:8765"}).status_code == 400
