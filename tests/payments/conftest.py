"""Payments fixtures: the Paymob secret in Vault and the domain's shortcuts (tests/support/payments.py)."""

from __future__ import annotations

import secrets

import psycopg
import pytest

from harness.factories import Factories
from harness.testing import Rpc
from tests.support.payments import Billing


@pytest.fixture
def paymob_secret(db: psycopg.Connection) -> str:
    secret = secrets.token_hex(16)
    db.execute("select vault.create_secret(%s, 'paymob_hmac_secret', 'Paymob HMAC secret (tests)')", (secret,))
    return secret


@pytest.fixture
def billing(db: psycopg.Connection, rpc: Rpc, factories: Factories, paymob_secret: str) -> Billing:
    return Billing(db, rpc, factories, paymob_secret)
