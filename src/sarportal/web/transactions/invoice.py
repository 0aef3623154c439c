"""The invoice's operations on a transaction's page: `POST /transactions/<id>/invoice/<op>`.

The settlement card holds four small forms while the invoice is open or overdue, for operators
and admins: extend the due date (the provider's fee for each option shown before confirming),
pause the dunning, send the invoice again, and report a payment the merchant received
directly. Each form carries a signed hidden `intent` made when the page was shown: the user,
the transaction, the operation, the fees and the invoice as seen, and a fresh idempotency key,
so a double click, a resent form or a retry after a lost answer has one effect. A session
whose proof of identity is old gets the password (or code) field inside the form, as for claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Final

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from sarportal.actions import Outcome, new_key, provider_key
from sarportal.domain.dunning import COLLECTION, UNPAID
from sarportal.domain.money import AmountError, parse_amount
from sarportal.domain.roles import Role
from sarportal.invoice_operations import (
    PAUSE_DAYS,
    InvoiceIntent,
    InvoiceOperations,
    InvoiceResult,
    Operation,
    Seen,
)
from sarportal.provider.models import Invoice, TransactionDetail
from sarportal.web.core.access import CurrentUser
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import SECRET_FIELD, confirm, needs_step_up
from sarportal.web.transactions.actor import actor
from sarportal.web.transactions.messages import amount_error, failure_sentence
from sarportal.web.ui.formats import format_day, format_money
from sarportal.web.ui.locale import current_locale

SALT: Final = "sarportal.invoice-operation"
INTENT_MAX_AGE: Final = 23 * 3600  # under the provider's 24 h replay window
RESEND_INTERVAL: Final = timedelta(hours=24)  # the provider sends an invoice at most once a day
# The operations as they appear in URLs, and back.
SLUGS: Final = {
    Operation.EXTEND: "extension",
    Operation.PAUSE: "pause",
    Operation.RESEND: "resend",
    Operation.DIRECT_PAYMENT: "direct-payment",
}
BY_SLUG: Final = {slug: op for op, slug in SLUGS.items()}


@dataclass(frozen=True)
class Opened:
    """A form as shown: whose, which transaction and operation, what was seen, the key."""

    user_id: int
    tx_id: str
    operation: Operation
    currency: str
    key: str
    seen: Seen
    fees: dict[int, int]  # extensions: working days → the fee shown, VAT included
    open_amount: int


@dataclass
class InvoiceEntry:
    """What the user sent, kept to show the form again after a refusal."""

    operation: Operation | None = None
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # about the whole form
    status: int = 200
    kept: Opened | None = None  # the intent to carry on (its key), after a lost answer

    @property
    def slug(self) -> str | None:
        """The form the entry came from, as the URL names it."""
        return None if self.operation is None else SLUGS[self.operation]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def seal(o: Opened) -> str:
    s = o.seen
    return _serializer().dumps(
        {"u": o.user_id, "t": o.tx_id, "o": o.operation.value, "$": o.currency, "k": o.key,
         "s": [s.extended, s.paused_until.isoformat() if s.paused_until else None, s.times_sent,
               s.direct_payments],
         "f": {str(days): fee for days, fee in o.fees.items()}, "a": o.open_amount}
    )  # fmt: skip


def unseal(token: str, user_id: int, tx_id: str, operation: Operation) -> Opened | None:
    """The form in `token` when it is genuine, recent and for this user, transaction and op."""
    try:
        data = _serializer().loads(token, max_age=INTENT_MAX_AGE)
        extended, paused, sent, direct = data["s"]
        opened = Opened(
            user_id=int(data["u"]),
            tx_id=str(data["t"]),
            operation=Operation(data["o"]),
            currency=str(data["$"]),
            key=str(data["k"]),
            seen=Seen(
                bool(extended),
                date.fromisoformat(paused) if paused else None,
                int(sent),
                int(direct),
            ),
            fees={int(days): int(fee) for days, fee in data["f"].items()},
            open_amount=int(data["a"]),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if (opened.user_id, opened.tx_id, opened.operation) != (user_id, tx_id, operation):
        return None
    return opened


def _open(found: TransactionDetail, invoice: Invoice, operation: Operation) -> Opened:
    user: CurrentUser = g.user
    fees = {o.working_days: o.fee_amount for o in invoice.extension_options}
    return Opened(
        user.id, found.id, operation, found.currency, new_key(), Seen.of(invoice), fees,
        invoice.open_amount,
    )  # fmt: skip


def offered(found: TransactionDetail, invoice: Invoice) -> list[Operation]:
    """The operations the provider would take now, by the contract's rules."""
    if found.settlement_status not in UNPAID:
        return []
    now = portal().settings.clock()
    paused = invoice.dunning_paused_until is not None and invoice.dunning_paused_until > now.date()
    ops = [Operation.EXTEND] if invoice.extension_options else []
    if found.dunning_level < COLLECTION and not paused:
        ops.append(Operation.PAUSE)
    if now - invoice.sent_at >= RESEND_INTERVAL:
        ops.append(Operation.RESEND)
    if invoice.open_amount > 0:
        ops.append(Operation.DIRECT_PAYMENT)
    return ops


def invoice_context(found: TransactionDetail, entry: InvoiceEntry | None) -> dict[str, Any]:
    """What the settlement card needs: the invoice, and the forms where they are offered."""
    invoice = found.invoice
    if invoice is None:
        return {"invoice": None, "invoice_forms": None}
    user: CurrentUser = g.user
    locale = current_locale()
    entry = entry or InvoiceEntry()
    forms: dict[str, Any] | None = None
    if user.role.allows(Role.OPERATOR):
        ops = offered(found, invoice)
        forms = {
            "operations": {SLUGS[op]: _intent(found, invoice, op, entry) for op in ops},
            "extension_options": [
                {
                    "days": o.working_days,
                    "due": _day(o.due_date),
                    "fee": format_money(o.fee_amount, found.currency, locale),
                    "vat": format_money(o.fee_vat, found.currency, locale),
                }
                for o in invoice.extension_options
            ],
            "pause_days": PAUSE_DAYS,
            "open_amount": format_money(invoice.open_amount, found.currency, locale),
            "today": portal().settings.clock().date().isoformat(),
            "step_up": needs_step_up(),
            "second_factor": user.has_second_factor,
            "secret_field": SECRET_FIELD,
            "entry": entry,
        }
    return {"invoice": invoice, "invoice_forms": forms}


def _intent(found: TransactionDetail, invoice: Invoice, op: Operation, entry: InvoiceEntry) -> str:
    if entry.kept is not None and entry.kept.operation is op:
        return seal(entry.kept)
    return seal(_open(found, invoice, op))


def submit(tx_id: str, slug: str) -> Response | InvoiceEntry:
    """Check and send one form: a redirect to the page after success, else the entry to show
    the page again with (its errors, the status, the intent to keep)."""
    user: CurrentUser = g.user
    operation = BY_SLUG[slug]
    form = request.form
    entry = InvoiceEntry(operation, {name: form.get(name, "")[:64] for name in INPUTS})
    opened = unseal(form.get("intent", ""), user.id, tx_id, operation)
    if opened is None:
        entry.error = _("This form has expired. Please check the invoice and send it again.")
        entry.status = 422
        return entry
    entry.kept = opened
    intent = _checked(opened, entry)
    if intent is None:
        entry.status = 422
        return entry
    if needs_step_up():
        refusal = confirm(form.get(SECRET_FIELD, ""))
        if refusal is not None:
            entry.errors["secret"] = refusal.message
            entry.status = refusal.status
            return entry
    result = InvoiceOperations(portal().store, provider_session()).perform(actor(), intent)
    if result.outcome is Outcome.SUCCEEDED:
        flash(success_sentence(intent, result), "success")
        return redirect(url_for("transaction.detail", tx_id=tx_id), code=303)
    entry.error = invoice_failure(result)
    entry.status = 422 if result.outcome is Outcome.FAILED else 502
    # a refusal is remembered with its key at the provider: the next try needs a new key; after
    # a lost answer the same key is kept, so that sending again replays instead of acting twice
    if result.outcome is Outcome.FAILED and not result.reconciled:
        entry.kept = None
    return entry


INPUTS: Final = ("working_days", "days", "amount", "paid_on")


def _checked(opened: Opened, entry: InvoiceEntry) -> InvoiceIntent | None:
    """The intent of a valid form; errors are put on the entry."""
    values, op = entry.values, opened.operation
    base = InvoiceIntent(
        transaction_id=opened.tx_id,
        operation=op,
        currency=opened.currency,
        idempotency_key=provider_key(opened.user_id, opened.key),
        seen=opened.seen,
    )
    if op is Operation.EXTEND:
        days = _integer(values["working_days"])
        if days not in opened.fees:
            entry.errors["working_days"] = _("Please choose how long to extend the due date.")
            return None
        return replace(base, working_days=days, fee_amount=opened.fees[days])
    if op is Operation.PAUSE:
        days = _integer(values["days"])
        if days not in PAUSE_DAYS:
            entry.errors["days"] = _("Please choose how long to pause the dunning.")
            return None
        return replace(base, days=days)
    if op is Operation.RESEND:
        return base
    return _direct_payment(opened, entry, base)


def _direct_payment(
    opened: Opened, entry: InvoiceEntry, base: InvoiceIntent
) -> InvoiceIntent | None:
    values = entry.values
    amount = 0
    try:
        amount = parse_amount(values["amount"], opened.currency, current_locale())
    except AmountError as error:
        entry.errors["amount"] = amount_error(error.reason, opened.currency)
    else:
        if amount > opened.open_amount:
            entry.errors["amount"] = _(
                "At most the open amount, %(amount)s, can be reported as paid to you.",
                amount=format_money(opened.open_amount, opened.currency, current_locale()),
            )
    paid_on = None
    try:
        paid_on = date.fromisoformat(values["paid_on"])
    except ValueError:
        entry.errors["paid_on"] = _("Please enter the day the customer paid you.")
    else:
        if paid_on > portal().settings.clock().date():
            entry.errors["paid_on"] = _("The day of payment cannot lie in the future.")
    if entry.errors:
        return None
    return replace(base, amount=amount, paid_on=paid_on)


def _day(day: date) -> str:
    return format_day(day, current_locale(), "UTC")


def _integer(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else 0


def success_sentence(intent: InvoiceIntent, result: InvoiceResult) -> str:
    locale = current_locale()
    invoice = result.invoice
    op = intent.operation
    if op is Operation.EXTEND:
        due = _day(invoice.due_date) if invoice else ""
        text = _(
            "The due date is now %(due)s. The fee of %(fee)s is deducted from your current payout.",
            due=due, fee=format_money(intent.fee_amount, intent.currency, locale),
        )  # fmt: skip
    elif op is Operation.PAUSE:
        until = invoice.dunning_paused_until if invoice else None
        text = _(
            "Dunning is paused until %(until)s; no notice is sent before then.",
            until=_day(until) if until else "",
        )
    elif op is Operation.RESEND:
        text = _("The payment provider sends the invoice to the customer again.")
    else:
        text = _(
            "Noted: the customer paid you %(amount)s directly. It is deducted from your current "
            "payout.",
            amount=format_money(intent.amount, intent.currency, locale),
        )
    if result.reconciled:
        text += " " + _(
            "The payment provider answered late; the portal checked the invoice and confirmed "
            "that this was done once."
        )
    return str(text)


def invoice_failure(result: InvoiceResult) -> str:
    """Why the operation did not (or may not) reach the provider, and what to do."""
    code = result.problem_code
    param = result.error.param if result.error else None
    if code == "invalid_state":
        return str(
            _(
                "The payment provider refused: the invoice no longer allows this (it may have "
                "been paid, extended or paused meanwhile). The page shows it as it is now."
            )
        )
    if code == "invalid_request" and param == "fee_amount":
        return str(
            _(
                "The fee for this extension has changed since the page was shown. Please check "
                "the new fee and confirm again."
            )
        )
    if code == "amount_exceeds_available":
        return str(
            _(
                "The payment provider refused: the amount is more than is still open. The page "
                "shows the open amount as it is now."
            )
        )
    return failure_sentence(code)
