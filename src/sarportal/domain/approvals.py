"""Four-eyes approval: above an organisation's threshold, a money action needs a second person.

An admin sets, per currency, the amount above which a refund needs approval, and whether the
same holds for captures and cancellations (`Policy`). Asking for such an action records the
intent as a pending `ApprovalRequest` (transaction id, kind, amount, reason, requester, and the
idempotency key made when the dialog opened); another operator or admin, never the requester,
approves it (the action is then sent with that key, so it runs once however often it is sent)
or rejects it. A request nobody decides expires.

    pending ──approve──▶ approved ──(sent)──▶ outcome: succeeded | failed (provider's code)
       │                                              | unknown (sent again with the same key)
       ├──reject──▶ rejected
       ├──withdraw (the requester)──▶ withdrawn
       └──(lifetime over)──▶ expired

Plain values only: who may decide is settled here from ids and roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sarportal.domain.actions import ActionKind, Amounts
from sarportal.domain.roles import Role

__all__ = [
    "DEFAULT_LIFETIME",
    "ApprovalError",
    "ApprovalRequest",
    "Decider",
    "Policy",
    "State",
    "may_decide",
]

DEFAULT_LIFETIME: Final = timedelta(days=7)
SENDING_GRACE: Final = timedelta(minutes=2)
"""Longer than any send takes (timeouts and the client's retries included)."""
MAX_THRESHOLD: Final = 10**12


class State(StrEnum):
    """Where a request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class ApprovalError(Exception):
    """A request cannot be made, found or decided; `code` is a key of the portal's errors."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Policy:
    """Above `threshold` (minor units of `currency`) a refund needs approval, and a capture or
    a cancellation too where `captures` / `cancellations` say so."""

    currency: str
    threshold: int
    captures: bool = False
    cancellations: bool = False

    def requires(self, kind: ActionKind, amount: int) -> bool:
        """Whether asking for `kind` over `amount` needs a second person."""
        applies = {
            ActionKind.REFUND: True,
            ActionKind.CAPTURE: self.captures,
            ActionKind.CANCEL: self.cancellations,
        }[kind]
        return applies and amount > self.threshold


@dataclass(frozen=True)
class Decider:
    """Who decides: a user's id, their organisation and their role."""

    id: int
    organisation_id: int
    role: Role


@dataclass(frozen=True)
class ApprovalRequest:
    """One request as the portal shows it (ids, amounts and codes; never a customer's data)."""

    key: str
    organisation_id: int
    transaction_id: str
    kind: ActionKind
    amount: int
    currency: str
    reason_code: str | None
    idempotency_key: str
    baseline: Amounts
    requested_by: int
    requester_name: str
    requested_at: datetime
    expires_at: datetime
    state: State
    decided_by: int | None = None
    decider_name: str | None = None
    decided_at: datetime | None = None
    outcome: str | None = None  # succeeded, failed, unknown: what the provider did on approval
    outcome_code: str | None = None  # the portal's problem code of a failure (its sentence)
    reason: str | None = None  # a refund's text for the provider, kept until it was sent

    def is_open(self, now: datetime) -> bool:
        """Whether the request still waits for a decision."""
        return self.state is State.PENDING and now < self.expires_at

    def needs_sending(self, now: datetime) -> bool:
        """Approved, but the provider's answer was lost (or the approval's process stopped
        before it heard one): the approver sends it again, with the same key. A send still
        under way (younger than `SENDING_GRACE`) is not one: a second click while it runs is
        "decided already", not a second send."""
        if self.state is not State.APPROVED:
            return False
        if self.outcome == "unknown":
            return True
        started = self.decided_at
        return self.outcome is None and started is not None and now - started > SENDING_GRACE


def may_decide(request: ApprovalRequest, who: Decider) -> bool:
    """Whether `who` may approve or reject: an operator or admin of the organisation who did
    not ask for it."""
    return (
        request.organisation_id == who.organisation_id
        and who.role.allows(Role.OPERATOR)
        and who.id != request.requested_by
    )
