"""The wallet as a state machine (Hypothesis), checked against a Python model after every step.

Rules: grants and deducts with or without an idempotency key, same-key retries
(the first answer again, charged once), the same key with other arguments (PT409,
nothing changes), deducts beyond the balance (PT402, nothing changes) and invalid
amounts (22023). After every step the balance, the ledger's sum and its row count
equal the model's, and the balance is never below zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from harness.factories import Factories
from harness.rpc import RpcError, as_client_sees, call

AMOUNTS = st.one_of(
    st.integers(1, 200).map(Decimal),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("50"), places=4),
)


@dataclass(frozen=True)
class Keyed:
    """A call made with a key, and the answer it got."""

    fn: str
    key: str
    amount: Decimal
    reason: str
    answer: dict[str, Any]


class Wallet(RuleBasedStateMachine):
    keyed = Bundle("keyed")

    def __init__(self, db: psycopg.Connection, api: psycopg.Connection, factories: Factories) -> None:
        super().__init__()
        self.db, self.api = db, api
        self.ws = str(factories.workspace().id)
        self.balance = Decimal(0)
        self.rows = 0
        self.n = 0

    def _call(self, fn: str, amount: Decimal, key: str | None, reason: str = "model") -> dict[str, Any]:
        args: dict[str, Any] = {"workspace_id": self.ws, "amount": amount, "reason": reason}
        if key is not None:
            args["idempotency_key"] = key
        # As a client sees it: a refused deduction is HTTP 402 with PostgREST's error body.
        return as_client_sees(call(self.api, fn, args))

    def _refused(self, fn: str, amount: Any, key: str | None, reason: str = "model") -> RpcError:
        try:
            self._call(fn, amount, key, reason)
        except RpcError as err:
            return err
        raise AssertionError(f"{fn} {amount} {key} was not refused")

    def _key(self) -> str:
        self.n += 1
        return f"k{self.n}"

    @rule(amount=AMOUNTS)
    def grant(self, amount: Decimal) -> None:
        answer = self._call("grant_credits", amount, None)
        self.balance += amount
        self.rows += 1
        assert (Decimal(str(answer["balance"])), answer["duplicate"]) == (self.balance, False)

    @rule(target=keyed, amount=AMOUNTS)
    def grant_with_key(self, amount: Decimal) -> Keyed:
        return self._grant_with_key(amount)

    def _grant_with_key(self, amount: Decimal) -> Keyed:
        key = self._key()
        answer = self._call("grant_credits", amount, key)
        self.balance += amount
        self.rows += 1
        assert Decimal(str(answer["balance"])) == self.balance
        return Keyed("grant_credits", key, amount, "model", answer)

    @rule(amount=AMOUNTS, with_key=st.booleans())
    def deduct(self, amount: Decimal, with_key: bool) -> None:
        key = self._key() if with_key else None
        if amount > self.balance:
            err = self._refused("deduct_credits", amount, key)
            assert (err.sqlstate, err.status, err.message) == ("PT402", 402, "insufficient_credits")
            return
        answer = self._call("deduct_credits", amount, key)
        self.balance -= amount
        self.rows += 1
        assert (Decimal(str(answer["balance"])), Decimal(str(answer["deducted"]))) == (self.balance, amount)

    @rule(target=keyed, amount=AMOUNTS)
    def deduct_with_key(self, amount: Decimal) -> Keyed:
        amount = min(amount, self.balance)
        if amount <= 0:
            return self._grant_with_key(Decimal(1))
        key = self._key()
        answer = self._call("deduct_credits", amount, key)
        self.balance -= amount
        self.rows += 1
        return Keyed("deduct_credits", key, amount, "model", answer)

    @rule(first=keyed)
    def retry_same_key(self, first: Keyed) -> None:
        answer = self._call(first.fn, first.amount, first.key, first.reason)
        assert answer["duplicate"] is True
        assert (answer["transaction_id"], answer["balance"]) == (first.answer["transaction_id"], first.answer["balance"])

    @rule(first=keyed, change=st.sampled_from(["amount", "reason", "kind"]))
    def same_key_other_arguments(self, first: Keyed, change: str) -> None:
        fn, amount, reason = first.fn, first.amount, first.reason
        if change == "amount":
            amount += Decimal("0.0001")
        elif change == "reason":
            reason = "another reason"
        else:
            fn = "grant_credits" if fn == "deduct_credits" else "deduct_credits"
        err = self._refused(fn, amount, first.key, reason)
        assert (err.sqlstate, err.status, err.message) == ("PT409", 409, "idempotency_conflict")
        assert first.key in (err.detail or "")

    @rule(
        fn=st.sampled_from(["grant_credits", "deduct_credits"]),
        amount=st.sampled_from([Decimal(0), Decimal(-1), Decimal("0.00001"), Decimal("1e13"), Decimal("NaN")]),
    )
    def invalid_amount(self, fn: str, amount: Decimal) -> None:
        err = self._refused(fn, amount, None)
        assert (err.sqlstate, err.message) == ("22023", "invalid_amount")

    @rule(first=consumes(keyed))
    def forget(self, first: Keyed) -> None:
        """Keys leave the pool too, so retries hit both old and recent calls."""

    @invariant()
    def matches_the_model(self) -> None:
        row = self.db.execute(
            "select w.balance, coalesce(sum(l.amount), 0), count(l.id) from public.workspace_wallets as w"
            " left join public.wallet_ledger as l using (workspace_id) where w.workspace_id = %s group by w.balance",
            (self.ws,),
        ).fetchone()
        balance, ledger_sum, rows = row if row else (Decimal(0), Decimal(0), 0)
        assert (balance, ledger_sum, rows) == (self.balance, self.balance, self.rows)
        assert balance >= 0


def test_the_wallet_matches_its_model(db: psycopg.Connection, connect: Any, factories: Factories) -> None:
    api = connect()

    class OnTheTestDatabase(Wallet):  # hypothesis builds each run's machine without arguments
        def __init__(self) -> None:
            super().__init__(db, api, factories)

    run_state_machine_as_test(OnTheTestDatabase, settings=settings(max_examples=30, stateful_step_count=25))
