"""The sandbox's vocabularies: each category column stores an index into one of these tuples."""

from __future__ import annotations

STATUSES = (
    "declined",
    "authorized",
    "partially_captured",
    "captured",
    "partially_refunded",
    "refunded",
    "cancelled",
    "expired",
)
(
    DECLINED,
    AUTHORIZED,
    PARTIALLY_CAPTURED,
    CAPTURED,
    PARTIALLY_REFUNDED,
    REFUNDED,
    CANCELLED,
    EXPIRED,
) = range(8)

# Index 0 means "no settlement" (nothing captured, or fully refunded).
SETTLEMENTS = (None, "open", "paid", "overdue", "written_off")
NO_SETTLEMENT, OPEN, PAID, OVERDUE, WRITTEN_OFF = range(5)

PAYMENT_METHODS = ("invoice", "installments", "direct_debit")
INVOICE, INSTALLMENTS, DIRECT_DEBIT = range(3)

COUNTRIES = ("DE", "AT", "CH")
CURRENCIES = ("EUR", "CHF")
CURRENCY_OF_COUNTRY = (0, 0, 1)

CUSTOMER_TYPES = ("b2c", "b2b")
B2C, B2B = range(2)

DUNNING_LEVELS = (None, "reminder", "first_dunning", "second_dunning", "collection")
# Days after the due date at which each dunning level is reached (domain.md).
DUNNING_DAYS = (7, 21, 35, 44)
WRITE_OFF_DAYS = 104
DUE_DAYS = 14
AUTHORIZATION_DAYS = 30

DECLINE_REASONS = (
    "risk_score_too_high",
    "address_not_verified",
    "customer_limit_exceeded",
    "open_dunning_cases",
)

DAY = 86_400

# Order references are "<merchant prefix>-<8 digits>": the row number plus this offset.
ORDER_NUMBER_OFFSET = 10_000_000
ORDER_NUMBER_DIGITS = 8
