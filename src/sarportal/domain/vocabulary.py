"""The contract's words (design §3, domain.md): every status, settlement state, payment method,
customer type and dunning level, each list written once, in the order pages show it.

The provider models decode into these types, the filters accept them, the statistics count by
them and the pages label them (`web` keeps the one table of their labels). The sandbox keeps its
own copy on purpose: it stands for another party.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Status = Literal[
    "authorized",
    "partially_captured",
    "captured",
    "partially_refunded",
    "refunded",
    "cancelled",
    "expired",
    "declined",
]
"""In the order of a transaction's life: authorized first, the two ends without action last."""
SettlementStatus = Literal["open", "overdue", "paid", "written_off"]
PaymentMethod = Literal["invoice", "installments", "direct_debit"]
CustomerType = Literal["b2c", "b2b"]
PayoutStatus = Literal["pending", "in_transit", "paid"]
"""In the order of a payout's life: the period is open, the transfer is under way, it arrived."""
PayoutLineType = Literal["capture", "refund", "fee", "claim", "direct_payment"]
ClaimStatus = Literal["open", "under_review", "accepted", "expired", "won", "lost"]
"""In the order an inbox shows them: waiting for the merchant, for the provider, then done."""
ClaimReason = Literal[
    "not_received", "returned", "defective", "not_as_described", "not_ordered", "other"
]
PayoutFormat = Literal["csv", "datev", "camt053"]
"""The accounting files a payout is exported as: plain CSV, DATEV Buchungsstapel, camt.053."""

STATUSES: Final[tuple[Status, ...]] = get_args(Status)
SETTLEMENT_STATUSES: Final[tuple[SettlementStatus, ...]] = get_args(SettlementStatus)
PAYMENT_METHODS: Final[tuple[PaymentMethod, ...]] = get_args(PaymentMethod)
CUSTOMER_TYPES: Final[tuple[CustomerType, ...]] = get_args(CustomerType)
PAYOUT_STATUSES: Final[tuple[PayoutStatus, ...]] = get_args(PayoutStatus)
PAYOUT_LINE_TYPES: Final[tuple[PayoutLineType, ...]] = get_args(PayoutLineType)
PAYOUT_FORMATS: Final[tuple[PayoutFormat, ...]] = get_args(PayoutFormat)
CLAIM_STATUSES: Final[tuple[ClaimStatus, ...]] = get_args(ClaimStatus)
CLAIM_REASONS: Final[tuple[ClaimReason, ...]] = get_args(ClaimReason)
DEDUCTED_CLAIM_STATUSES: Final[frozenset[ClaimStatus]] = frozenset({"accepted", "expired", "lost"})
"""A claim in these states is taken from a payout."""
DUNNING_LEVELS: Final = (0, 1, 2, 3, 4)
"""0: none yet; 1 reminder, 2 first and 3 second dunning notice, 4 handed to collection."""

NO_ACTION_STATUSES: Final[frozenset[Status]] = frozenset({"declined", "expired"})
"""Set by the provider; nothing can be captured, refunded or cancelled any more."""
CAPTURABLE_STATUSES: Final[frozenset[Status]] = frozenset({"authorized", "partially_captured"})
"""Capture and cancel take from the rest only in these (and before the authorization expires)."""
