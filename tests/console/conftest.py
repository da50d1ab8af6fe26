"""Console test helpers: the app on the test database as a platform admin, a signed-in
client (the webhook suite's fixtures come from tests/support/webhooks.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from harness.console.app import create_app
from harness.console.db import AdminDb, find_admin
from harness.console.security import Gate
from harness.factories import Factories
from tests.support.console import BASE, PORT, Console


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
