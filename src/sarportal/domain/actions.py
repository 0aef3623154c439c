"""Refund, capture and cancel as rules: what may be asked for, and whether it happened.

Plain values only (no Flask, no store, no HTTP), so the page, the API and the tests share one
reading of domain.md's limits and of "did this action take effect?" after an unknown outcome.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sarportal.domain.vocabulary import CAPTURABLE_STATUSES, NO_ACTION_STATUSES


class ActionKind(enum.Enum):
    """The three writes a merchant can ask the provider for."""

    REFUND = "refund"
    CAPTURE = "capture"
    CANCEL = "cancellation"

    @property
    def audit_action(self) -> str:
        """The audit log's name for this action."""
        return f"transaction.{self.value}"

    @classmethod
    def parse(cls, text: str) -> ActionKind:
        """The kind named `text` ('refund', 'capture', 'cancellation'); ValueError otherwise."""
        return cls(text)


@dataclass(frozen=True)
class Amounts:
    """A transaction's money per stage, in minor units, with its status (no personal data)."""

    status: str
    currency: str
    amount: int
    captured: int
    refunded: int
    cancelled: int
    authorization_expires_at: datetime | None = None

    def available(self, kind: ActionKind, now: datetime | None = None) -> int:
        """The most `kind` may take now: 0 when the action is not possible at all."""
        if self.status in NO_ACTION_STATUSES:
            return 0
        if kind is ActionKind.REFUND:
            return max(0, self.captured - self.refunded)
        if self.status not in CAPTURABLE_STATUSES:
            return 0
        expiry = self.authorization_expires_at
        if now is not None and expiry is not None and now >= expiry:
            return 0
        return max(0, self.amount - self.captured - self.cancelled)


class Effect(enum.Enum):
    """What a comparison of the amounts before and after an uncertain write shows."""

    APPLIED = "applied"  # the amounts moved by exactly this action
    NOT_APPLIED = "not_applied"  # nothing moved
    UNCLEAR = "unclear"  # something else moved them; a person must look


def effect_of(kind: ActionKind, amount: int, before: Amounts, after: Amounts) -> Effect:
    """Whether `after` shows exactly the action of `kind` over `amount` applied to `before`."""
    moved = (
        after.captured - before.captured,
        after.refunded - before.refunded,
        after.cancelled - before.cancelled,
    )
    expected = {
        ActionKind.CAPTURE: (amount, 0, 0),
        ActionKind.REFUND: (0, amount, 0),
        ActionKind.CANCEL: (0, 0, amount),
    }[kind]
    if moved == expected and amount > 0:
        return Effect.APPLIED
    if moved == (0, 0, 0):
        return Effect.NOT_APPLIED
    return Effect.UNCLEAR


REFUND_REASONS: Final = (
    ("customer_return", "Customer return"),
    ("damaged", "Damaged goods"),
    ("wrong_item", "Wrong item delivered"),
    ("goodwill", "Goodwill"),
    ("duplicate", "Duplicate payment"),
    ("other", "Other"),
)
"""Refund reasons: a stable code and the English wording sent to the provider."""
REASON_NOTE_MAX: Final = 200


class ReasonError(ValueError):
    """A refund reason that cannot be sent; `reason` is a stable key for the message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def refund_reason(code: str, note: str = "") -> str:
    """The provider's `reason` text: the chosen reason's wording, then the merchant's note."""
    wording = dict(REFUND_REASONS).get(code)
    if wording is None:
        raise ReasonError("unknown", "Please choose a reason from the list.")
    note = " ".join(note.split())
    if len(note) > REASON_NOTE_MAX:
        raise ReasonError("too_long", f"The note may have at most {REASON_NOTE_MAX} characters.")
    if code == "other" and not note:
        raise ReasonError("note_required", "Please describe the reason.")
    return f"{wording}: {note}" if note else wording


def parse_refund_reason(text: str) -> tuple[str | None, str]:
    """The reason code and the note of a provider `reason` that `refund_reason` made, or
    (None, text) for any other text (made elsewhere: shown as it is)."""
    for code, wording in REFUND_REASONS:
        if text == wording:
            return code, ""
        if text.startswith(f"{wording}: "):
            return code, text[len(wording) + 2 :]
    return None, text
