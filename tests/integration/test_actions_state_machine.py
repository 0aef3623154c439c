"""A hypothesis state machine over actions with injected faults: nothing lost, nothing twice.

Each run takes a fresh authorized transaction of a private sandbox and applies a random
sequence of captures, refunds and cancellations with random amounts through the portal API (a
personal token of an operator). Some requests meet a fault at the provider:

- `hang` once: the provider applies the action, the answer never comes (the portal's read
  timeout is 0.3 s, the sandbox holds answers 0.6 s); the client retries with the same
  idempotency key and gets the first answer replayed;
- `hang` always: every attempt times out; the portal reads the transaction again and reconciles;
- `error_503` once: refused before applying, the retry applies it;
- `error_503` always: never applied, and the user is told so.

The model adds up what the users were told succeeded (201). After every step the provider's
amounts, read straight from the sandbox, equal the model exactly, no answer is "unknown", and
every action has its pending and its outcome audit line.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from sarportal.actions import CUSTOMER_VIEWED
from sarportal.domain.roles import Role
from sarportal.provider import Provider
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SandboxHandle
from tests.integration.helpers_transaction import audit_rows, provider_view

RUNS = 10
STEPS = 6
# (fault kind, how many requests it hits); None: no fault
FAULTS = st.sampled_from(
    [None, None, None, ("hang", 1), ("hang", 10), ("error_503", 1), ("error_503", 10)]
)


def _pool(handle: SandboxHandle, size: int) -> list[str]:
    """Transactions that take some action, taken in turn from the authorized ones (whose
    authorization lasts beyond the test), the partially captured and the captured ones."""
    soon = datetime.now(UTC) + timedelta(hours=1)
    by_status: list[list[str]] = []
    with handle.client("demo-operator") as client:
        for status in ("authorized", "partially_captured", "captured"):
            params = {"status": status, "limit": 1000}
            rows = client.get("/v1/transactions", params=params).json()["data"]
            by_status.append(
                [
                    row["id"]
                    for row in rows
                    if row["amount"] >= 200
                    and (
                        status != "authorized"
                        or datetime.fromisoformat(row["authorization_expires_at"]) > soon
                    )
                ]
            )
    mixed = [tx for turn in itertools.zip_longest(*by_status) for tx in turn if tx]
    assert len(mixed) >= size, f"only {len(mixed)} transactions that take an action"
    return mixed[:size][::-1]  # `pop()` takes from the end


def test_provider_amounts_always_equal_what_the_users_were_told(
    make_sandbox: Callable[..., SandboxHandle], make_provider_app: Callable[..., Flask]
) -> None:
    handle = make_sandbox(transactions=3000, seed=13, hang_seconds=0.6)
    app = make_provider_app(handle, provider_read_timeout=0.3)
    provider: Provider = app.extensions["sarportal"].provider
    provider._sleep = lambda _seconds: None  # retries back off without slowing the test
    user = make_provider_user(app, Role.OPERATOR)
    with app.extensions["sarportal"].store.unit_of_work() as uow:
        raw, _row = uow.tokens.create(user.id, None)
        uow.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    client = app.test_client()
    pool = _pool(handle, RUNS * 3)  # hypothesis may run more examples while it shrinks
    faults = handle.running.app.faults

    class Actions(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.tx_id = ""
            self.amount = self.captured = self.refunded = self.cancelled = 0
            self.sent = 0

        @initialize()
        def take_a_fresh_transaction(self) -> None:
            assert pool, "the pool of authorized transactions is used up"
            self.tx_id = pool.pop()
            start = provider_view(handle, self.tx_id)
            self.amount = start["amount"]
            self.captured, self.refunded = start["captured_amount"], start["refunded_amount"]
            self.cancelled = start["cancelled_amount"]

        def _send(self, path: str, body: dict[str, Any], fault: tuple[str, int] | None) -> bool:
            """Send one action; whether the user was told it succeeded."""
            pending_before = self._pending()
            if fault is not None:
                faults.schedule(fault[0], "/v1/transactions/", "POST", fault[1])
            try:
                response = client.post(
                    f"/api/v1/transactions/{self.tx_id}/{path}", json=body, headers=headers
                )
            finally:
                faults.clear()
            problem = response.get_json() if response.status_code != 201 else None
            sent = self._pending() - pending_before
            # Every request is one action with its audit lines, unless the portal refused it
            # before asking the provider (the transaction's state rules it out).
            assert sent == 1 or (sent == 0 and problem and problem["code"] == "invalid_state")
            self.sent += sent
            if problem is None:
                return True
            assert response.mimetype == "application/problem+json", response.status_code
            assert problem["code"] not in ("outcome_unknown", "outcome_unclear"), problem
            if sent and fault == ("error_503", 10):
                assert problem["code"] == "not_applied", problem
            return False

        def _pending(self) -> int:
            return sum(e["outcome"] == "pending" for e in audit_rows(app, self.tx_id))

        @rule(share=st.integers(1, 130), fault=FAULTS)
        def capture(self, share: int, fault: tuple[str, int] | None) -> None:
            available = self.amount - self.captured - self.cancelled
            amount = max(1, available * share // 100)
            told = self._send("captures", {"amount": amount}, fault)
            if told:
                assert amount <= available, "a capture beyond the available amount succeeded"
                self.captured += amount

        @rule(share=st.integers(1, 130), fault=FAULTS)
        def refund(self, share: int, fault: tuple[str, int] | None) -> None:
            available = self.captured - self.refunded
            amount = max(1, available * share // 100)
            told = self._send("refunds", {"amount": amount, "reason": "goodwill"}, fault)
            if told:
                assert amount <= available, "a refund beyond the captured amount succeeded"
                self.refunded += amount

        @rule(fault=FAULTS)
        def cancel(self, fault: tuple[str, int] | None) -> None:
            rest = self.amount - self.captured - self.cancelled
            if self._send("cancellations", {}, fault):
                assert rest > 0, "a cancellation with nothing left succeeded"
                self.cancelled += rest

        @invariant()
        def provider_amounts_equal_the_model(self) -> None:
            if not self.tx_id:
                return
            now = provider_view(handle, self.tx_id)
            found = (now["captured_amount"], now["refunded_amount"], now["cancelled_amount"])
            assert found == (self.captured, self.refunded, self.cancelled)

        @invariant()
        def every_action_has_a_pending_and_an_outcome_line(self) -> None:
            if not self.tx_id:
                return
            entries = [e for e in audit_rows(app, self.tx_id) if e["action"] != CUSTOMER_VIEWED]
            pending = [e for e in entries if e["outcome"] == "pending"]
            outcomes = [e for e in entries if e["outcome"] != "pending"]
            assert len(pending) == len(outcomes) == self.sent
            assert sorted(e["completes_id"] for e in outcomes) == sorted(e["id"] for e in pending)
            assert all(e["outcome"] in ("succeeded", "failed") for e in outcomes)

    run_state_machine_as_test(
        Actions,
        settings=settings(
            max_examples=RUNS,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
