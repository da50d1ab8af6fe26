"""The review's "No upgrade without confirmation", proven: every unconfirmed path leaves the plan alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.factories import Factories, Workspace
from tests.payments.conftest import Billing, paymob_sign


def _pending_paymob(billing: Billing, ws: Workspace) -> None:
    billing.request(ws, "pro", "paymob")


def _failed_paymob(billing: Billing, ws: Workspace) -> None:
    payload, signature = billing.callback(billing.request(ws, "pro", "paymob"), success=False)
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": signature})


def _forged_paymob(billing: Billing, ws: Workspace) -> None:
    payload, _ = billing.callback(billing.request(ws, "pro", "paymob"))
    billing.rpc("handle_paymob_callback", {"payload": payload, "hmac": paymob_sign(payload, "guessed")})


def _unconfirmed_instapay(billing: Billing, ws: Workspace) -> None:
    billing.request(ws, "pro", "instapay")


@pytest.mark.parametrize(
    "path",
    [_pending_paymob, _failed_paymob, _forged_paymob, _unconfirmed_instapay],
    ids=["pending_payment", "failed_paymob_transaction", "forged_hmac", "unconfirmed_instapay"],
)
def test_plan_unchanged_without_a_confirmation(
    billing: Billing, factories: Factories, path: Callable[[Billing, Workspace], None]
) -> None:
    ws = factories.workspace()
    before = billing.limits(ws)
    path(billing, ws)
    assert billing.plan_of(ws) == "free"
    assert billing.subscriptions(ws) == []
    assert billing.audits("subscription.activated", ws) == []
    assert billing.limits(ws) == before
    confirmed = billing.db.execute("select count(*) from public.payments where status = 'confirmed'").fetchone()
    assert confirmed == (0,)
