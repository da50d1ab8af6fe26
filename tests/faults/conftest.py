"""Fault tests borrow the webhook domain's signing helpers (Vault secrets, signed deliveries, agents)."""

from tests.webhooks.conftest import ops, secrets, sign  # noqa: F401  (fixtures, registered by import)
