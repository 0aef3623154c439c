"""The dialog's sentences: what will happen, what happened, and why something did not."""

from __future__ import annotations

from typing import Any, Final

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from sarportal.domain.actions import REASON_NOTE_MAX, ActionKind, Amounts
from sarportal.domain.money import minor_digits
from sarportal.web.core.problems import problem
from sarportal.web.ui.formats import format_money
from sarportal.web.ui.locale import current_locale

REASON_LABELS: Final[tuple[tuple[str, Any], ...]] = (
    ("customer_return", _l("Customer returned the goods")),
    ("damaged", _l("Goods damaged")),
    ("wrong_item", _l("Wrong item delivered")),
    ("goodwill", _l("Goodwill")),
    ("duplicate", _l("Duplicate payment")),
    ("other", _l("Other")),
)


def _(text: str, **values: Any) -> str:
    """`gettext`, typed (pybabel extracts calls of `_`)."""
    return str(gettext(text, **values))


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency, current_locale())


def amount_error(reason: str, currency: str) -> str:
    """The message for an `AmountError.reason`."""
    if reason == "empty":
        return _("Please enter an amount.")
    if reason in ("negative", "not_positive"):
        return _("The amount must be more than zero.")
    if reason == "precision":
        return _("%(currency)s amounts have at most %(digits)d decimal places.") % {
            "currency": currency,
            "digits": minor_digits(currency),
        }
    if reason == "too_large":
        return _("The amount is too large.")
    example = _money(123456, currency)
    return _("Please enter the amount like %(example)s.") % {"example": example}


def above_maximum(kind: ActionKind, maximum: int, currency: str) -> str:
    """The message for an amount above what the action may take."""
    values = {"maximum": _money(maximum, currency)}
    if kind is ActionKind.REFUND:
        return _("You can refund at most %(maximum)s.") % values
    return _("You can capture at most %(maximum)s.") % values


def reason_error(reason: str) -> str:
    """The message for a `ReasonError.reason`."""
    if reason == "too_long":
        return _("The note may have at most %(n)d characters.") % {"n": REASON_NOTE_MAX}
    if reason == "note_required":
        return _("Please describe the reason in the note.")
    return _("Please choose a reason from the list.")


def confirmation_sentence(kind: ActionKind, amount: int, baseline: Amounts, tx_id: str) -> str:
    """What will happen, repeated before the user confirms."""
    values = {"amount": _money(amount, baseline.currency), "id": tx_id}
    if kind is ActionKind.REFUND:
        return _("Refund %(amount)s of transaction %(id)s to the customer.") % values
    if kind is ActionKind.CAPTURE:
        return (
            _(
                "Capture %(amount)s of transaction %(id)s. If this is the first capture, "
                "the invoice becomes due in 14 days."
            )
            % values
        )
    return (
        _(
            "Cancel the remaining %(amount)s of transaction %(id)s. "
            "The authorization ends; this cannot be undone."
        )
        % values
    )


def success_sentence(
    kind: ActionKind, amount: int, currency: str, tx_id: str, reconciled: bool
) -> str:
    """The message after the provider carried the action out."""
    values = {"amount": _money(amount, currency), "id": tx_id}
    if kind is ActionKind.REFUND:
        text = _("Refunded %(amount)s of transaction %(id)s to the customer.") % values
    elif kind is ActionKind.CAPTURE:
        text = _("Captured %(amount)s of transaction %(id)s.") % values
    else:
        text = _("Cancelled the remaining %(amount)s of transaction %(id)s.") % values
    if reconciled:
        text += " " + _(
            "The payment provider answered late; the portal checked the transaction and "
            "confirmed that the action was carried out once."
        )
    return text


def failure_sentence(code: str | None) -> str:
    """Why the action did not (or may not) happen, and what to do, for
    `ActionResult.problem_code` (the one table's text)."""
    return problem(code).detail()
