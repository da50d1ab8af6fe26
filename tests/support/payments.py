"""Payments-domain shortcuts: payment requests, signed Paymob callbacks, and the reads the tests assert on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from harness.factories import Factories, User, Workspace
from harness.testing import Rpc
from tests.support.paymob import paymob_payload, paymob_sign


@dataclass
class Billing:
    """Payments-domain shortcuts over the fixtures."""

    db: psycopg.Connection
    rpc: Rpc
    factories: Factories
    secret: str

    def request(self, ws: Workspace, plan_key: str = "pro", provider: str = "paymob", as_: User | None = None) -> dict:
        caller = as_ or ws.owner
        return self.rpc(
            "create_payment_request",
            {"workspace_id": str(ws.id), "plan_key": plan_key, "provider": provider},
            as_=caller.jwt,
        )

    def callback(self, payment: dict, **overrides: Any) -> tuple[dict, str]:
        """A correctly signed success callback for a payment request (overrides change it before signing)."""
        amount = overrides.pop("amount_cents", payment["amount"])
        currency = overrides.pop("currency", payment["currency"])
        payload = paymob_payload(payment["reference"], amount, currency, **overrides)
        return payload, paymob_sign(payload, self.secret)

    def plan_of(self, ws: Workspace) -> str:
        row = self.db.execute("select plan_key from public.workspaces where id = %s", (ws.id,)).fetchone()
        assert row is not None
        return row[0]

    def payment(self, payment_id: Any) -> dict[str, Any]:
        row = self.db.execute(
            "select to_jsonb(p) from public.payments as p where p.id = %s", (str(payment_id),)
        ).fetchone()
        assert row is not None
        return row[0]

    def subscriptions(self, ws: Workspace) -> list[dict[str, Any]]:
        return [
            r[0]
            for r in self.db.execute(
                "select to_jsonb(s) from public.subscriptions as s where s.workspace_id = %s order by created_at",
                (ws.id,),
            ).fetchall()
        ]

    def audits(self, action: str, ws: Workspace) -> list[dict[str, Any]]:
        return [
            r[0]
            for r in self.db.execute(
                "select to_jsonb(a) from public.audit_logs as a where a.action = %s and a.workspace_id = %s order by id",
                (action, ws.id),
            ).fetchall()
        ]

    def alerts(self, type_: str = "payment_failure") -> list[dict[str, Any]]:
        return [
            r[0]
            for r in self.db.execute(
                "select to_jsonb(a) from public.alerts as a where a.type = %s order by id", (type_,)
            ).fetchall()
        ]

    def limits(self, ws: Workspace) -> dict[str, tuple[float, float, str]]:
        rows = self.db.execute(
            "select metric, soft_limit, hard_limit, plan_key from public.usage_limits"
            " where workspace_id = %s and period_start = private.usage_period()",
            (ws.id,),
        ).fetchall()
        return {metric: (float(soft), float(hard), plan) for metric, soft, hard, plan in rows}

    def plan_limits(self, plan_key: str) -> dict[str, tuple[float, float, str]]:
        rows = self.db.execute(
            "select metric, soft_limit, hard_limit from public.plan_limits where plan_key = %s", (plan_key,)
        ).fetchall()
        return {metric: (float(soft), float(hard), plan_key) for metric, soft, hard in rows}
