"""Accept or contest a claim at the provider: one intent, one idempotency key, two audit lines.

`ClaimResponses.respond(actor, intent)` is what the claim's page and the API both call, in the
same steps as `sarportal.actions` for refunds: a `pending` audit line before the provider hears
anything, the provider asked with the intent's key, and an outcome line. When the answer is
lost the claim is read again: answered the way this intent answers it → succeeded; still
`open` → failed (`not_applied`); otherwise, or when the read fails too → unknown.

The contestation's text and evidence files go to the provider and nowhere else: the audit
records how many files and how many bytes, never a text, a file name or a file's content (a
statement or a proof of delivery names the customer).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sarportal.actions import Actor, AuditTrail, Ended, Outcome, audited_write
from sarportal.domain.actions import Effect
from sarportal.domain.claims import Upload
from sarportal.provider import ProviderSession
from sarportal.provider.client import Responded
from sarportal.provider.errors import ProviderError
from sarportal.provider.models import Claim
from sarportal.store import Store

TARGET: Final = "claim"


class Answer(enum.StrEnum):
    """How the merchant answers a claim (the provider's `response.type`)."""

    ACCEPT = "acceptance"
    CONTEST = "contestation"

    @property
    def audit_action(self) -> str:
        return f"claim.{self.value}"


@dataclass(frozen=True)
class ClaimIntent:
    """One answer a user decided on; repeating the same intent has exactly one effect."""

    claim_id: str
    answer: Answer
    amount: int  # the claim's amount the user saw, minor units
    currency: str
    idempotency_key: str  # as the provider receives it (`sarportal.actions.provider_key`)
    text: str = ""  # contestations: the statement
    evidence: Sequence[Upload] = ()  # contestations: the files, in memory only


@dataclass(frozen=True)
class ClaimResult(Ended):
    """The outcome, the claim afterwards when known, and the error behind a failure."""

    outcome: Outcome
    claim: Claim | None
    error: ProviderError | None = None
    reconciled: bool = False
    effect: Effect | None = None


class ClaimResponses:
    """Answers claims, and audits the answers, for one user's provider session."""

    def __init__(self, store: Store, session: ProviderSession) -> None:
        self._store = store
        self._session = session

    def respond(self, actor: Actor, intent: ClaimIntent) -> ClaimResult:
        """Send `intent` to the provider; never raises a provider error (it is in the result)."""
        trail = AuditTrail(self._store, actor, TARGET, intent.claim_id)
        return audited_write(
            trail, intent.answer.audit_action, _details(intent), lambda: self._send(intent),
            succeeded=lambda answered: ClaimResult(Outcome.SUCCEEDED, answered.claim),
            failed=lambda error: ClaimResult(Outcome.FAILED, None, error),
            reconcile=lambda error: self._reconcile(intent, error),
        )  # fmt: skip

    def _send(self, intent: ClaimIntent) -> Responded:
        key = intent.idempotency_key
        if intent.answer is Answer.ACCEPT:
            return self._session.accept_claim(intent.claim_id, idempotency_key=key)
        return self._session.contest_claim(
            intent.claim_id, intent.text, intent.evidence, idempotency_key=key
        )

    def _reconcile(self, intent: ClaimIntent, error: ProviderError) -> ClaimResult:
        try:
            now = self._session.claim(intent.claim_id)
        except ProviderError:
            return ClaimResult(Outcome.UNKNOWN, None, error, reconciled=True)
        if now.response is not None and now.response.type == intent.answer.value:
            effect, outcome = Effect.APPLIED, Outcome.SUCCEEDED
        elif now.status == "open":
            effect, outcome = Effect.NOT_APPLIED, Outcome.FAILED
        else:  # answered otherwise, or expired, meanwhile
            effect, outcome = Effect.UNCLEAR, Outcome.UNKNOWN
        return ClaimResult(outcome, now, error, reconciled=True, effect=effect)


def _details(intent: ClaimIntent) -> dict[str, Any]:
    details: dict[str, Any] = {
        "amount": intent.amount,
        "currency": intent.currency,
        "idempotency_key": intent.idempotency_key,
    }
    if intent.answer is Answer.CONTEST:
        details["evidence_files"] = len(intent.evidence)
        details["evidence_bytes"] = sum(len(f.data) for f in intent.evidence)
    return details
