"""The one table of what the contract's words are called on a page, and the badge tone of each.

The table, the detail page, the filters, the charts and the CSV export all label a status, a
settlement state, a payment method, a customer type or a dunning level from here (the codes are
`domain.vocabulary`'s), so a word reads the same everywhere.
"""

from __future__ import annotations

from typing import Any, Final

from flask_babel import lazy_gettext as _l

from sarportal.domain.vocabulary import (
    ClaimReason,
    ClaimStatus,
    CustomerType,
    PaymentMethod,
    PayoutFormat,
    PayoutLineType,
    PayoutStatus,
    SettlementStatus,
    Status,
)

STATUS: Final[dict[Status, Any]] = {
    "authorized": _l("Authorized"),
    "partially_captured": _l("Partially captured"),
    "captured": _l("Captured"),
    "partially_refunded": _l("Partially refunded"),
    "refunded": _l("Refunded"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired"),
    "declined": _l("Declined"),
}
STATUS_TONE: Final[dict[Status, str]] = {  # Bootstrap's badge tones, near the charts' colours
    "authorized": "primary",
    "partially_captured": "info",
    "captured": "success",
    "partially_refunded": "warning",
    "refunded": "secondary",
    "cancelled": "secondary",
    "expired": "secondary",
    "declined": "danger",
}
SETTLEMENT: Final[dict[SettlementStatus, Any]] = {
    "open": _l("Open"),
    "overdue": _l("Overdue"),
    "paid": _l("Paid"),
    "written_off": _l("Written off"),
}
SETTLEMENT_TONE: Final[dict[SettlementStatus, str]] = {
    "open": "info",
    "overdue": "danger",
    "paid": "success",
    "written_off": "dark",
}
PAYMENT_METHOD: Final[dict[PaymentMethod, Any]] = {
    "invoice": _l("Invoice"),
    "installments": _l("Installments"),
    "direct_debit": _l("Direct debit"),
}
CUSTOMER_TYPE: Final[dict[CustomerType, Any]] = {
    "b2c": _l("Consumer (B2C)"),
    "b2b": _l("Business (B2B)"),
}
DUNNING_LEVEL: Final[dict[int, Any]] = {
    0: _l("No reminder"),
    1: _l("Payment reminder"),
    2: _l("First dunning notice"),
    3: _l("Second dunning notice"),
    4: _l("Handed to collection"),
}
PAYOUT_STATUS: Final[dict[PayoutStatus, Any]] = {
    "pending": _l("Pending"),
    "in_transit": _l("In transit"),
    "paid": _l("Paid out"),
}
PAYOUT_STATUS_TONE: Final[dict[PayoutStatus, str]] = {
    "pending": "secondary",
    "in_transit": "info",
    "paid": "success",
}
PAYOUT_LINE_TYPE: Final[dict[PayoutLineType, Any]] = {
    "capture": _l("Capture"),
    "refund": _l("Refund"),
    "fee": _l("Fee"),
    "claim": _l("Claim deduction"),
    "direct_payment": _l("Paid directly to you"),
}
PAYOUT_FORMAT: Final[dict[PayoutFormat, Any]] = {
    "csv": _l("CSV"),
    "datev": _l("DATEV (EXTF)"),
    "camt053": _l("camt.053 (XML)"),
}
CLAIM_STATUS: Final[dict[ClaimStatus, Any]] = {
    "open": _l("Awaiting your response"),
    "under_review": _l("Under review"),
    "accepted": _l("Accepted"),
    "expired": _l("Expired unanswered"),
    "won": _l("Won"),
    "lost": _l("Lost"),
}
CLAIM_STATUS_TONE: Final[dict[ClaimStatus, str]] = {
    "open": "warning",
    "under_review": "info",
    "accepted": "secondary",
    "expired": "danger",
    "won": "success",
    "lost": "dark",
}
CLAIM_REASON: Final[dict[ClaimReason, Any]] = {
    "not_received": _l("Goods not received"),
    "returned": _l("Goods returned"),
    "defective": _l("Defective"),
    "not_as_described": _l("Not as described"),
    "not_ordered": _l("Not ordered"),
    "other": _l("Other"),
}
