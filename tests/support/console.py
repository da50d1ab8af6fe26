"""The console under test: its app in-process on the test database, signed in as a platform admin."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx2
from starlette.testclient import TestClient

from harness.console.db import AdminDb
from harness.console.security import Gate
from harness.factories import User

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


@dataclass
class Console:
    client: TestClient
    gate: Gate
    admin: User
    db: AdminDb

    def sign_in(self) -> str:
        """Exchange the one-time token for a session; returns the session's CSRF token."""
        token = self.gate.token
        response = self.client.get(f"/login?token={token}", follow_redirects=False)
        assert response.status_code == 303, response.text
        return self.csrf("/")

    def csrf(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match, "no CSRF field on the page"
        return match.group(1)

    def post(self, path: str, data: dict[str, str], csrf: str) -> httpx2.Response:
        return self.client.post(path, data={**data, "csrf": csrf, "next": "/"}, follow_redirects=False)
