"""What the detail page shows, as plain values: labels, the masked customer, the audit trail.

The page's template never receives the customer object: it gets the list of field names that
can be revealed, and a revealed value only ever comes from `customer_field` for one field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from markupsafe import Markup

from sarportal.actions import CUSTOMER_VIEWED
from sarportal.domain.actions import ActionKind, Amounts, parse_refund_reason
from sarportal.provider.models import Customer
from sarportal.store.models import AuditEntry
from sarportal.web.transactions.messages import REASON_LABELS
from sarportal.web.ui import labels
from sarportal.web.ui.locale import per_locale

STATUS: Final[dict[str, tuple[Any, str]]] = {
    code: (label, labels.STATUS_TONE[code]) for code, label in labels.STATUS.items()
}
SETTLEMENT: Final[dict[str, tuple[Any, str]]] = {
    code: (label, labels.SETTLEMENT_TONE[code]) for code, label in labels.SETTLEMENT.items()
}
EVENT: Final[dict[str, tuple[Any, str]]] = {
    "authorization": (_l("Authorized"), "bi-shield-check"),
    "decline": (_l("Declined"), "bi-shield-x"),
    "capture": (_l("Captured"), "bi-box-arrow-in-down"),
    "refund": (_l("Refunded"), "bi-arrow-counterclockwise"),
    "cancellation": (_l("Cancelled"), "bi-x-circle"),
    "payment": (_l("Paid by the customer"), "bi-cash-coin"),
    "dunning_notice": (_l("Dunning notice sent"), "bi-envelope-exclamation"),
    "write_off": (_l("Written off"), "bi-journal-x"),
    "due_date_extension": (_l("Due date extended"), "bi-calendar-plus"),
    "dunning_pause": (_l("Dunning paused"), "bi-pause-circle"),
    "invoice_resend": (_l("Invoice sent again"), "bi-envelope-arrow-up"),
    "direct_payment": (_l("Paid to you directly"), "bi-cash-stack"),
}
ACTION_NAME: Final = {  # dialog titles and the audit's "what"
    ActionKind.REFUND: _l("Refund"),
    ActionKind.CAPTURE: _l("Capture"),
    ActionKind.CANCEL: _l("Cancellation"),
}
ACTION_BUTTON: Final = {  # the page's buttons, which open the dialog
    ActionKind.REFUND: _l("Refund…"),
    ActionKind.CAPTURE: _l("Capture…"),
    ActionKind.CANCEL: _l("Cancel remainder…"),
}
AUDIT_OUTCOME: Final[dict[str, tuple[Any, str]]] = {
    "pending": (_l("Pending"), "warning"),
    "succeeded": (_l("Succeeded"), "success"),
    "failed": (_l("Failed"), "danger"),
    "unknown": (_l("Outcome unknown"), "warning"),
    "replayed": (_l("Repeated request, no new effect"), "secondary"),
    "success": (_l("Done"), "secondary"),
}

# The customer's personal fields, in the order shown; each is revealed on its own.
CUSTOMER_FIELDS: Final = (
    ("name", _l("Name")),
    ("company", _l("Company")),
    ("email", _l("E-mail address")),
    ("phone", _l("Phone")),
    ("date_of_birth", _l("Date of birth")),
    ("billing_address", _l("Billing address")),
    ("shipping_address", _l("Shipping address")),
    ("iban", _l("Bank account (IBAN)")),
)
CUSTOMER_FIELD_NAMES: Final = frozenset(name for name, _ in CUSTOMER_FIELDS)


def customer_fields(customer_type: str) -> list[tuple[str, Any]]:
    """The fields the page offers to reveal (a company only for business customers)."""
    labels = template_globals()["customer_field_labels"]
    return [(n, label) for n, label in labels if n != "company" or customer_type == "b2b"]


def field_label(name: str) -> Any:
    """The label of one customer field."""
    return dict(CUSTOMER_FIELDS)[name]


def customer_field(customer: Customer, name: str) -> list[str] | None:
    """One personal field as lines of text (None when the customer has none)."""
    if name in ("billing_address", "shipping_address"):
        address = getattr(customer, name)
        lines = [address.line1, address.line2, f"{address.postal_code} {address.city}"]
        return [line for line in lines if line] + [address.country]
    value = {
        "name": customer.name,
        "company": customer.company,
        "email": customer.email,
        "phone": customer.phone,
        "date_of_birth": customer.date_of_birth,
        "iban": customer.iban_masked,
    }[name]
    return None if value is None else [value]


@dataclass(frozen=True)
class AvailableAction:
    """An action the page offers, with the most it may take."""

    kind: ActionKind
    label: Any
    maximum: int


def available_actions(amounts: Amounts, now: datetime) -> list[AvailableAction]:
    """The actions that are possible now, in the order the page shows them."""
    found = []
    for kind in (ActionKind.CAPTURE, ActionKind.REFUND, ActionKind.CANCEL):
        maximum = amounts.available(kind, now)
        if maximum > 0:
            found.append(AvailableAction(kind, ACTION_BUTTON[kind], maximum))
    return found


@dataclass(frozen=True)
class AuditRow:
    """One line of the page's audit: an action with its latest outcome, or a data view."""

    at: datetime
    actor: str
    action: str
    field: str | None
    amount: int | None
    currency: str | None
    outcome: str
    code: str | None


def audit_rows(entries: Sequence[tuple[AuditEntry, str | None]]) -> list[AuditRow]:
    """Pending entries folded with the outcome that completes them, newest first."""
    outcomes: dict[int, AuditEntry] = {}
    for entry, _email in entries:
        if entry.completes_id is not None:
            outcomes[entry.completes_id] = entry
    rows = []
    for entry, email in entries:
        if entry.completes_id is not None:
            continue
        final = outcomes.get(entry.id, entry)
        details = final.details or {}
        rows.append(
            AuditRow(
                at=entry.at,
                actor=email or "—",
                action=entry.action,
                field=details.get("field") if entry.action == CUSTOMER_VIEWED else None,
                amount=details.get("amount"),
                currency=details.get("currency"),
                outcome=final.outcome,
                code=details.get("code"),
            )
        )
    rows.reverse()
    return rows


APPROVAL_ACTION: Final = {
    "approval.requested": _l("Asked for approval"),
    "approval.approved": _l("Approved"),
    "approval.rejected": _l("Rejected"),
    "approval.withdrawn": _l("Withdrew the request"),
    "approval.expired": _l("Request expired"),
}


def audit_action_label(action: str) -> Any:
    """What an audit action is called on the page."""
    if action == CUSTOMER_VIEWED:
        return _l("Viewed customer data")
    if action in APPROVAL_ACTION:
        return APPROVAL_ACTION[action]
    try:
        return ACTION_NAME[ActionKind.parse(action.removeprefix("transaction."))]
    except ValueError:
        return action


def _page_text(label: Any) -> Any:
    """A label as a page shows it: a lazy translation translated now (and, as Jinja shows a lazy
    string, marked safe); a tuple of labels, each of them."""
    if isinstance(label, tuple):
        return tuple(_page_text(part) for part in label)
    return Markup(str(label)) if isinstance(label, LazyString) else label  # noqa: S704 (ours)


@per_locale
def template_globals() -> dict[str, Any]:
    """What the detail templates use, with the labels translated once per language: a page
    shows dozens of them."""
    tables: dict[str, dict[Any, Any]] = {
        "status_labels": STATUS,
        "settlement_labels": SETTLEMENT,
        "payment_method_labels": labels.PAYMENT_METHOD,
        "customer_type_labels": labels.CUSTOMER_TYPE,
        "dunning_labels": labels.DUNNING_LEVEL,
        "event_labels": EVENT,
        "audit_outcome_labels": AUDIT_OUTCOME,
    }
    found: dict[str, Any] = {
        name: {key: _page_text(label) for key, label in table.items()}
        for name, table in tables.items()
    }
    found["customer_field_labels"] = _page_text(CUSTOMER_FIELDS)
    return found | {
        "audit_action_label": audit_action_label,
        "field_label": field_label,
        "refund_reason_text": refund_reason_text,
    }


def refund_reason_text(text: str) -> str:
    """A refund's reason as the page's language says it: the reason the portal sent, in the
    reader's words (the provider keeps the English wording), then the merchant's note as typed."""
    code, note = parse_refund_reason(text)
    if code is None:
        return text
    label = str(dict(REASON_LABELS)[code])
    return f"{label}: {note}" if note else label
