"""Typed answers of the provider API (contract v1), decoded with msgspec.

msgspec validates while it decodes, straight from bytes, several times faster than building
pydantic models (the figures are in the README's performance section). Unknown fields are
ignored, so a provider that adds a field breaks nothing; a missing or mistyped one is an error.
Customer fields are personal data: they live in these objects for one request and are never
stored, logged or put in a URL.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from sarportal.domain.vocabulary import (
    ClaimReason,
    ClaimStatus,
    CustomerType,
    PaymentMethod,
    PayoutLineType,
    PayoutStatus,
    SettlementStatus,
    Status,
)

ActionType = Literal["capture", "refund", "cancellation"]
EventType = Literal[
    "authorization",
    "decline",
    "capture",
    "refund",
    "cancellation",
    "payment",
    "dunning_notice",
    "write_off",
    "due_date_extension",
    "dunning_pause",
    "invoice_resend",
    "direct_payment",
]
InvoiceOperationType = Literal[
    "due_date_extension", "dunning_pause", "invoice_resend", "direct_payment"
]


class TransactionSummary(msgspec.Struct, frozen=True):
    """A transaction without personal data, as the list endpoints return it."""

    id: str
    created_at: datetime
    updated_at: datetime
    status: Status
    settlement_status: SettlementStatus | None
    payment_method: PaymentMethod
    currency: str
    amount: int
    captured_amount: int
    refunded_amount: int
    cancelled_amount: int
    order_reference: str
    shop: str
    country: str
    customer_type: CustomerType
    customer_id: str
    authorization_expires_at: datetime
    captured_at: datetime | None
    due_date: date | None
    paid_at: datetime | None
    dunning_level: int


class TransactionPage(msgspec.Struct, frozen=True):
    data: list[TransactionSummary]
    has_more: bool
    next_cursor: str | None
    total_count: int | None = None


class Address(msgspec.Struct, frozen=True):
    line1: str
    line2: str | None
    postal_code: str
    city: str
    country: str


class Customer(msgspec.Struct, frozen=True):
    """Personal data: shown on the detail page, masked until revealed, never kept."""

    id: str
    type: CustomerType
    first_name: str
    last_name: str
    name: str
    company: str | None
    email: str
    phone: str
    date_of_birth: str | None
    billing_address: Address
    shipping_address: Address
    iban_masked: str | None


class OrderLine(msgspec.Struct, frozen=True):
    sku: str
    name: str
    quantity: int
    unit_price: int
    total_amount: int
    tax_rate: float


class Event(msgspec.Struct, frozen=True):
    id: str
    type: EventType
    occurred_at: datetime
    amount: int | None
    currency: str
    outcome: Literal["succeeded", "failed"]
    reason: str | None
    dunning_level: int | None


class Extension(msgspec.Struct, frozen=True):
    """The extension of an invoice's due date that was made (at most one)."""

    working_days: int
    fee_amount: int  # VAT included, minor units
    fee_vat: int
    extended_at: datetime


class ExtensionOption(msgspec.Struct, frozen=True):
    """An extension on offer: how long, to which day, for what fee (VAT included)."""

    working_days: int
    due_date: date
    fee_amount: int
    fee_vat: int


class DirectPayment(msgspec.Struct, frozen=True):
    """A payment the merchant reported having received from the customer directly."""

    amount: int
    paid_on: date
    reported_at: datetime


class Invoice(msgspec.Struct, frozen=True):
    """The invoice after capture: its due date, what is open, and what can be done about it."""

    due_date: date
    original_due_date: date
    open_amount: int
    extension: Extension | None
    extension_options: list[ExtensionOption]
    dunning_paused_until: date | None
    sent_at: datetime
    times_sent: int
    direct_payments: list[DirectPayment]


class TransactionDetail(TransactionSummary, frozen=True):
    """The summary plus the customer, the order lines, the history and the invoice (None
    without a settlement, or from a provider that does not describe it)."""

    customer: Customer
    items: list[OrderLine]
    events: list[Event]
    invoice: Invoice | None = None


class InvoiceOperation(msgspec.Struct, frozen=True):
    """The answer to an invoice operation: the transaction and its invoice after it."""

    id: str
    type: InvoiceOperationType
    amount: int | None
    currency: str
    created_at: datetime
    transaction: TransactionSummary
    invoice: Invoice | None
    replayed: bool = False  # not the provider's: set from its `Idempotent-Replayed` header


class Action(msgspec.Struct, frozen=True):
    """The answer to a capture, refund or cancellation."""

    id: str
    type: ActionType
    amount: int
    currency: str
    reason: str | None
    created_at: datetime
    transaction: TransactionSummary
    # The provider answered with its stored first response to this idempotency key
    # (`Idempotent-Replayed: true`): set from that header, never from the body.
    replayed: bool = False


class Payout(msgspec.Struct, frozen=True):
    """One transfer to the merchant, one currency and period; signed amounts in minor units
    (`amount = captures + refunds + fees + claims + direct_payments`)."""

    id: str
    currency: str
    status: PayoutStatus
    period_start: datetime
    period_end: datetime
    arrival_date: date
    amount: int
    captures: int
    refunds: int
    fees: int
    fee_vat: int
    claims: int
    direct_payments: int
    line_count: int
    bank_reference: str


class PayoutTotal(msgspec.Struct, frozen=True):
    """The matching payouts of one currency, over all pages."""

    currency: str
    count: int
    amount: int


class PayoutPage(msgspec.Struct, frozen=True):
    data: list[Payout]
    has_more: bool
    next_cursor: str | None
    totals: list[PayoutTotal] | None = None


class PayoutLine(msgspec.Struct, frozen=True):
    """One booking of a payout: a capture credited, or a refund, fee or deduction taken."""

    type: PayoutLineType
    transaction_id: str
    order_reference: str
    booked_at: datetime
    amount: int
    vat_amount: int


class PayoutLinePage(msgspec.Struct, frozen=True):
    data: list[PayoutLine]
    has_more: bool
    next_cursor: str | None


class Evidence(msgspec.Struct, frozen=True):
    """A file the merchant sent with a contestation; only its description, never its bytes."""

    filename: str
    content_type: str
    size: int
    sha256: str


class ClaimResponse(msgspec.Struct, frozen=True):
    type: Literal["acceptance", "contestation"]
    text: str | None
    evidence: list[Evidence]


class Claim(msgspec.Struct, frozen=True):
    """A customer's claim (dispute) against a transaction: no personal data."""

    id: str
    transaction_id: str
    order_reference: str
    currency: str
    amount: int
    reason: ClaimReason
    status: ClaimStatus
    created_at: datetime
    respond_by: datetime
    responded_at: datetime | None
    decided_at: datetime | None
    deducted_in_payout: str | None
    response: ClaimResponse | None


class ClaimPage(msgspec.Struct, frozen=True):
    data: list[Claim]
    has_more: bool
    next_cursor: str | None
    total_count: int | None = None


class Token(msgspec.Struct, frozen=True):
    access_token: str
    token_type: str
    expires_in: int
    scope: str = ""


class Problem(msgspec.Struct, frozen=True):
    """An error answer (problem+json); only the fields the portal uses."""

    status: int | None = None
    code: str | None = None
    detail: str | None = None
    param: str | None = None
    request_id: str | None = None
