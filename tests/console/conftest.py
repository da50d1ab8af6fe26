"""Console test helpers: the webhook fixtures (signing secrets, signed deliveries,
agents on numbers) are the webhook suite's own, re-exported here."""

from __future__ import annotations

from tests.webhooks.conftest import ops, secrets, sign  # noqa: F401  (fixtures)
