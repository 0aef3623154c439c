"""The invoice after capture, at the provider: extend its due date, pause its dunning, send it
again, report a payment the merchant received directly. One intent, one idempotency key, two
audit lines, as for refunds (`sarportal.actions`).

`InvoiceOperations.perform(actor, intent)` is what the transaction's page and the API both
call. When the answer is lost the transaction is read again and its invoice compared with the
one the user saw (`Seen`): changed the way this operation changes it → succeeded; unchanged →
failed (`not_applied`); otherwise, or when the read fails too → unknown.

The audit records the operation's figures (days, fee, amount, day of payment), never anything
about the customer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sarportal.actions import Actor, AuditTrail, Ended, Outcome, audited_write, summary_of
from sarportal.domain.actions import Effect
from sarportal.provider import ProviderSession
from sarportal.provider.errors import ProviderError
from sarportal.provider.models import Invoice, InvoiceOperation, TransactionSummary
from sarportal.store import Store

TARGET: Final = "transaction"
MAX_PAUSE_DAYS: Final = 30
PAUSE_DAYS: Final = (7, 14, 30)  # the choices the page offers


class Operation(enum.StrEnum):
    """What can be done about an invoice (the provider's operation `type`)."""

    EXTEND = "due_date_extension"
    PAUSE = "dunning_pause"
    RESEND = "invoice_resend"
    DIRECT_PAYMENT = "direct_payment"

    @property
    def audit_action(self) -> str:
        return f"invoice.{self.value}"


@dataclass(frozen=True)
class Seen:
    """What the user saw of the invoice when deciding: enough to tell, after a lost answer,
    whether the operation took effect."""

    extended: bool
    paused_until: date | None
    times_sent: int
    direct_payments: int

    @classmethod
    def of(cls, invoice: Invoice) -> Seen:
        return cls(
            extended=invoice.extension is not None,
            paused_until=invoice.dunning_paused_until,
            times_sent=invoice.times_sent,
            direct_payments=len(invoice.direct_payments),
        )


@dataclass(frozen=True)
class InvoiceIntent:
    """One operation a user decided on; repeating the same intent has exactly one effect."""

    transaction_id: str
    operation: Operation
    currency: str
    idempotency_key: str  # as the provider receives it (`sarportal.actions.provider_key`)
    seen: Seen
    working_days: int = 0  # extensions
    fee_amount: int = 0  # extensions: the fee shown, VAT included
    days: int = 0  # pauses
    amount: int = 0  # direct payments
    paid_on: date | None = None  # direct payments


@dataclass(frozen=True)
class InvoiceResult(Ended):
    """The outcome, the transaction and invoice afterwards when known, the error of a failure."""

    outcome: Outcome
    transaction: TransactionSummary | None
    invoice: Invoice | None = None
    error: ProviderError | None = None
    reconciled: bool = False
    effect: Effect | None = None


def effect_on(intent: InvoiceIntent, seen: Seen, now: Seen) -> Effect:
    """Whether the invoice went from `seen` to `now` by exactly this operation."""
    op = intent.operation
    if op is Operation.EXTEND:
        changed, unchanged = now.extended and not seen.extended, now.extended == seen.extended
    elif op is Operation.PAUSE:
        changed = now.paused_until is not None and now.paused_until != seen.paused_until
        unchanged = now.paused_until == seen.paused_until
    elif op is Operation.RESEND:
        changed, unchanged = (
            now.times_sent == seen.times_sent + 1,
            now.times_sent == seen.times_sent,
        )
    else:
        changed = now.direct_payments == seen.direct_payments + 1
        unchanged = now.direct_payments == seen.direct_payments
    if changed:
        return Effect.APPLIED
    return Effect.NOT_APPLIED if unchanged else Effect.UNCLEAR


class InvoiceOperations:
    """Performs and audits invoice operations for one user's provider session."""

    def __init__(self, store: Store, session: ProviderSession) -> None:
        self._store = store
        self._session = session

    def perform(self, actor: Actor, intent: InvoiceIntent) -> InvoiceResult:
        """Send `intent` to the provider; never raises a provider error (it is in the result)."""
        trail = AuditTrail(self._store, actor, TARGET, intent.transaction_id)
        return audited_write(
            trail, intent.operation.audit_action, details_of(intent), lambda: self._send(intent),
            succeeded=lambda done: InvoiceResult(Outcome.SUCCEEDED, done.transaction, done.invoice),
            failed=lambda error: InvoiceResult(Outcome.FAILED, None, error=error),
            reconcile=lambda error: self._reconcile(intent, error),
        )  # fmt: skip

    def _send(self, intent: InvoiceIntent) -> InvoiceOperation:
        s, tx, key = self._session, intent.transaction_id, intent.idempotency_key
        op = intent.operation
        if op is Operation.EXTEND:
            return s.extend_due_date(
                tx, intent.working_days, intent.fee_amount, idempotency_key=key
            )
        if op is Operation.PAUSE:
            return s.pause_dunning(tx, intent.days, idempotency_key=key)
        if op is Operation.RESEND:
            return s.resend_invoice(tx, idempotency_key=key)
        paid_on = intent.paid_on or date.today()  # a direct payment's intent always has its day
        return s.report_direct_payment(tx, intent.amount, paid_on, idempotency_key=key)

    def _reconcile(self, intent: InvoiceIntent, error: ProviderError) -> InvoiceResult:
        try:
            detail = self._session.transaction(intent.transaction_id)
        except ProviderError:
            return InvoiceResult(Outcome.UNKNOWN, None, error=error, reconciled=True)
        summary = summary_of(detail)
        if detail.invoice is None:  # refunded in full meanwhile: nothing to compare
            effect = Effect.UNCLEAR
        else:
            effect = effect_on(intent, intent.seen, Seen.of(detail.invoice))
        outcome = {
            Effect.APPLIED: Outcome.SUCCEEDED,
            Effect.NOT_APPLIED: Outcome.FAILED,
            Effect.UNCLEAR: Outcome.UNKNOWN,
        }[effect]
        return InvoiceResult(
            outcome, summary, detail.invoice, error, reconciled=True, effect=effect
        )


def details_of(intent: InvoiceIntent) -> dict[str, Any]:
    """The audit's figures of an operation: no text, nothing about the customer."""
    details: dict[str, Any] = {
        "currency": intent.currency,
        "idempotency_key": intent.idempotency_key,
    }
    op = intent.operation
    if op is Operation.EXTEND:
        details.update(working_days=intent.working_days, fee_amount=intent.fee_amount)
    elif op is Operation.PAUSE:
        details["days"] = intent.days
    elif op is Operation.DIRECT_PAYMENT:
        details["amount"] = intent.amount
        details["paid_on"] = intent.paid_on.isoformat() if intent.paid_on else None
    return details
