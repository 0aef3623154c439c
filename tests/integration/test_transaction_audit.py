"""The action service's audit trail on both databases, with a provider that loses answers.

The provider here is a small fake handed in as the session (no patching): it can apply an
action and then time out, time out without applying, or not answer reads at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import msgspec
import pytest
from sqlalchemy import select

from sarportal.actions import Actor, Intent, Outcome, TransactionActions, amounts_of
from sarportal.domain.actions import ActionKind
from sarportal.provider import ProviderSession
from sarportal.provider.errors import InvalidState, ProviderTimeout, ProviderUnavailable
from sarportal.provider.models import TransactionSummary
from sarportal.store import Store
from sarportal.store.models import AuditEntry

MOMENT = datetime(2025, 3, 1, tzinfo=UTC).isoformat()
SUMMARY: dict[str, Any] = {
    "id": "tx_0abc",
    "created_at": MOMENT,
    "updated_at": MOMENT,
    "status": "captured",
    "settlement_status": "open",
    "payment_method": "invoice",
    "currency": "EUR",
    "amount": 5000,
    "captured_amount": 5000,
    "refunded_amount": 0,
    "cancelled_amount": 0,
    "order_reference": "MH-1",
    "shop": "musterhaus-de",
    "country": "DE",
    "customer_type": "b2c",
    "customer_id": "cus_1",
    "authorization_expires_at": MOMENT,
    "captured_at": MOMENT,
    "due_date": "2025-03-15",
    "paid_at": None,
    "dunning_level": 0,
}


class LosingProvider:
    """Refunds that time out; `applies` decides whether the refund happened anyway."""

    def __init__(self, *, applies: bool, readable: bool = True, refuses: bool = False) -> None:
        self.refunded = 0
        self.applies = applies
        self.readable = readable
        self.refuses = refuses

    def transaction(self, transaction_id: str) -> TransactionSummary:
        if not self.readable:
            raise ProviderUnavailable("down")
        return msgspec.convert({**SUMMARY, "refunded_amount": self.refunded}, TransactionSummary)

    def refund(self, transaction_id: str, amount: int, reason: str, **_: str) -> Any:
        if self.refuses:
            raise InvalidState("no", code="invalid_state", status=409)
        if self.applies:
            self.refunded += amount
        raise ProviderTimeout("late")


def _perform(store: Store, provider: LosingProvider) -> Any:
    before = msgspec.convert(SUMMARY, TransactionSummary)
    intent = Intent(
        transaction_id="tx_0abc",
        kind=ActionKind.REFUND,
        amount=700,
        currency="EUR",
        idempotency_key="k" * 64,
        baseline=amounts_of(before),
        reason="Goodwill: Kunde Erika Mustermann",  # a careless note: must not be kept
        reason_code="goodwill",
    )
    service = TransactionActions(store, cast(ProviderSession, provider))
    return service.perform(Actor(user_id=1, organisation_id=1), intent)


def _trail(store: Store) -> list[AuditEntry]:
    with store.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


@pytest.mark.parametrize(
    ("behaviour", "outcome", "code"),
    [
        ({"applies": True}, Outcome.SUCCEEDED, None),
        ({"applies": False}, Outcome.FAILED, "not_applied"),
        ({"applies": True, "readable": False}, Outcome.UNKNOWN, "outcome_unknown"),
        ({"applies": False, "refuses": True}, Outcome.FAILED, "invalid_state"),
    ],
)
def test_a_lost_answer_is_reconciled_and_audited_as_two_lines(
    store: Store, behaviour: dict[str, bool], outcome: Outcome, code: str | None
) -> None:
    result = _perform(store, LosingProvider(**behaviour))
    assert (result.outcome, result.code) == (outcome, code)
    pending, final = _trail(store)
    assert (pending.outcome, pending.completes_id) == ("pending", None)
    assert (final.outcome, final.completes_id) == (outcome.value, pending.id)
    assert final.details.get("code") == code
    assert final.details["amount"] == 700 and final.details["reason_code"] == "goodwill"
    assert "Mustermann" not in str(pending.details) + str(final.details)
