"""An ERP's open items (CSV) read from bytes, and what the provider says about each.

Only the columns that name the transaction (its order reference or the provider's id), the open
amount and its currency are read, found by their header; every other column (an ERP export
usually names the customer) is skipped unread. `judge` then says per item whether the finance
team can close it (the provider paid it out, or it was refunded), should look at it (another
amount, unknown to the provider, cancelled), or waits (captured and in a payout on its way, or
not captured yet). Pure values; the page fetches the transactions and payouts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final, Literal

from sarportal.domain.money import minor_digits
from sarportal.provider.models import Payout, TransactionSummary
from sarportal.reconciliation.statements import StatementError

MAX_ITEMS: Final = 1_000
TX_ID: Final = re.compile(r"^tx_[0-9a-f]{16}$")
REFERENCE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
IDENT_HEADERS: Final = frozenset({
    "order_reference", "reference", "order", "order_no", "order_number", "bestellnummer",
    "bestellung", "referenz", "auftragsnummer", "transaction", "transaction_id",
})  # fmt: skip
AMOUNT_HEADERS: Final = frozenset(
    {"amount", "open_amount", "open", "balance", "betrag", "offener_betrag", "offen", "saldo"}
)
CURRENCY_HEADERS: Final = frozenset({"currency", "währung", "waehrung", "wkz"})

Verdict = Literal[
    "paid_out", "refunded", "amount_differs", "unknown", "not_owed", "in_payout", "not_captured"
]
CLOSE: Final = ("paid_out", "refunded")
CHECK: Final = ("amount_differs", "unknown", "not_owed")


@dataclass(frozen=True, slots=True)
class OpenItem:
    """One line of the ERP's open items: the transaction it names and its open amount."""

    line: int
    ident: str  # an order reference or a transaction id
    amount: int | None  # minor units; None when the file has no amount column
    currency: str | None


@dataclass(frozen=True, slots=True)
class ItemFinding:
    item: OpenItem
    verdict: Verdict
    transaction: TransactionSummary | None = None
    payout: Payout | None = None


def _header(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lower())


def _minor(text: str, currency: str) -> int:
    """An amount as ERPs write it: `1.234,56`, `1,234.56`, `1234.56` or `-12,5`."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace("'", "")
    if "," in cleaned and "." in cleaned:
        if cleaned.rfind(",") > cleaned.rfind("."):
            cleaned = cleaned.replace(".", "").replace(",", ".")
        else:
            cleaned = cleaned.replace(",", "")
    else:
        cleaned = cleaned.replace(",", ".")
    value = Decimal(cleaned).scaleb(minor_digits(currency))
    if value != value.to_integral_value():
        raise InvalidOperation
    return int(value)


def read_open_items(data: bytes) -> list[OpenItem]:
    """The items of a CSV with a header line; `StatementError("items")` when it cannot be used
    (no identifying column, a bad amount, more than `MAX_ITEMS` lines)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [_header(cell) for cell in next(reader, [])]
    single = len(header) == 1 and header[0] not in IDENT_HEADERS
    if single or "\x00" in sample or not all(name.isprintable() for name in header):
        raise StatementError("format")  # not a table: neither statement nor open items
    ident = next((i for i, name in enumerate(header) if name in IDENT_HEADERS), None)
    amount = next((i for i, name in enumerate(header) if name in AMOUNT_HEADERS), None)
    currency = next((i for i, name in enumerate(header) if name in CURRENCY_HEADERS), None)
    if ident is None:
        raise StatementError("items_header")
    items: list[OpenItem] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(items) >= MAX_ITEMS:
            raise StatementError("items_too_many")
        name = cells[ident].strip() if ident < len(cells) else ""
        if not (TX_ID.match(name) or REFERENCE.match(name)):
            raise StatementError("items_ident")
        code = (cells[currency].strip().upper() if currency is not None and currency < len(cells)
                else "") or None  # fmt: skip
        value = None
        if amount is not None and amount < len(cells) and cells[amount].strip():
            try:
                value = _minor(cells[amount].strip(), code or "EUR")
            except (InvalidOperation, ValueError):
                raise StatementError("amount") from None
        items.append(OpenItem(number, name, value, code))
    if not items:
        raise StatementError("empty")
    return items


def covering(payouts: Iterable[Payout], tx: TransactionSummary) -> Payout | None:
    """The payout whose period holds the transaction's (first) capture, in its currency."""
    at: datetime | None = tx.captured_at
    if at is None:
        return None
    return next(
        (p for p in payouts
         if p.currency == tx.currency and p.period_start <= at < p.period_end),
        None,
    )  # fmt: skip


def judge(item: OpenItem, tx: TransactionSummary | None, payouts: Iterable[Payout]) -> ItemFinding:
    """What the provider's view means for one open item."""
    if tx is None:
        return ItemFinding(item, "unknown")
    if tx.status in ("declined", "expired", "cancelled"):
        return ItemFinding(item, "not_owed", tx)
    if tx.captured_amount == 0:
        return ItemFinding(item, "not_captured", tx)
    owed = tx.captured_amount - tx.refunded_amount
    if owed == 0:
        return ItemFinding(item, "refunded", tx)
    currency_differs = item.currency is not None and item.currency != tx.currency
    if (item.amount is not None and item.amount != owed) or currency_differs:
        return ItemFinding(item, "amount_differs", tx)
    payout = covering(payouts, tx)
    if payout is not None and payout.status == "paid":
        return ItemFinding(item, "paid_out", tx, payout)
    return ItemFinding(item, "in_payout", tx, payout)
