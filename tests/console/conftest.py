"""Console test helpers: the app on the test database as a platform admin, a signed-in
client, and the webhook suite's fixtures (signing secrets, signed deliveries, agents)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from harness.console.app import create_app
from harness.console.db import AdminDb, find_admin
from harness.console.security import Gate
from harness.factories import Factories, User
from tests.webhooks.conftest import deliver, ops, secrets, sign  # noqa: F401  (fixtures)

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

    def post(self, path: str, data: dict[str, str], csrf: str) -> object:
        return self.client.post(path, data={**data, "csrf": csrf, "next": "/"}, follow_redirects=False)


@pytest.fixture
def console(db_url: str, factories: Factories) -> Iterator[Console]:
    admin = factories.platform_admin()
    gate = Gate()
    admin_db = AdminDb(db_url, find_admin(db_url, admin.email), max_size=2)
    try:
        with TestClient(create_app(admin_db, gate, PORT), base_url=BASE) as client:
            yield Console(client, gate, admin, admin_db)
    finally:
        admin_db.close()
