"""Bank statements read from bytes into plain entries: ISO 20022 camt.053 and SWIFT MT940.

The XML is parsed with defusedxml (a statement is untrusted input: no entity expansion, no
external references) and the SWIFT text with the `mt940` library. Only what matching needs is
kept: booking date, signed amount in minor units, currency, and the entry's remittance text.
An unreadable file raises `StatementError` with a sentence for the user, never with the file's
content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import mt940
from defusedxml import DefusedXmlException

from sarportal.domain.money import minor_digits

MAX_ENTRIES: Final = 20_000
MT940_TEXTS: Final = (
    "purpose", "transaction_details", "customer_reference", "bank_reference", "extra_details"
)  # fmt: skip
CAMT_NAMESPACE: Final = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.\d{2}\}")


class StatementError(ValueError):
    """The file is not a bank statement this portal reads; `code` says why (one of `REASONS`)."""

    def __init__(self, code: str) -> None:
        super().__init__(REASONS[code])
        self.code = code


REASONS: Final = {
    "format": "The file is neither a bank statement (camt.053, MT940) nor a CSV of open items.",
    "xml": "The XML file cannot be read as a camt.053 statement.",
    "not_camt": "The XML file is not a camt.053 statement (BkToCstmrStmt).",
    "mt940": "The file cannot be read as an MT940 statement.",
    "empty": "The statement holds no entries.",
    "too_many": f"The statement has more than {MAX_ENTRIES:,} entries.",
    "amount": "An amount on the statement cannot be read.",
    "date": "A date on the statement cannot be read.",
    "entry": "An entry of the statement has no amount, date or credit/debit mark.",
    "items_header": "The CSV's header names no order reference or transaction column.",
    "items_ident": "A line of the CSV names neither an order reference nor a transaction id.",
    "items_too_many": "The CSV has more than 1,000 open items.",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One booking on the statement: signed (a credit is positive), in minor units."""

    booked: date
    amount: int
    currency: str
    text: str


@dataclass(frozen=True, slots=True)
class Statement:
    """The statement's entries and the days it covers (both inclusive)."""

    kind: str  # "camt.053" or "MT940"
    first_day: date
    last_day: date
    entries: tuple[Entry, ...]


def is_statement(data: bytes) -> bool:
    """Whether the file looks like a bank statement (XML, or SWIFT's `:20:` / `{1:` blocks)
    rather than a CSV of open items."""
    head = data.lstrip().removeprefix(b"\xef\xbb\xbf")[:1]
    return head in (b"<", b":", b"{")


def read_statement(data: bytes) -> Statement:
    """Read camt.053 or MT940, told apart by their first characters."""
    head = data.lstrip().removeprefix(b"\xef\xbb\xbf")[:1]
    if head == b"<":
        return _camt(data)
    if head in (b":", b"{"):
        return _mt940(data)
    raise StatementError("format")


def _minor(value: str | Decimal, currency: str) -> int:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise StatementError("amount") from exc
    scaled = amount.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise StatementError("amount")
    return int(scaled)


def _period(kind: str, entries: list[Entry], first: date | None, last: date | None) -> Statement:
    if not entries and (first is None or last is None):
        raise StatementError("empty")
    days = [entry.booked for entry in entries]
    return Statement(
        kind, first or min(days), last or max(days), tuple(entries)
    )  # fmt: skip


# -- camt.053 ----------------------------------------------------------------------------------


def _local(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def _child(element: Element, *path: str) -> Element | None:
    found: Element | None = element
    for name in path:
        if found is None:
            return None
        found = next((c for c in found if _local(c) == name), None)
    return found


def _text(element: Element, *path: str) -> str:
    found = _child(element, *path)
    return (found.text or "").strip() if found is not None else ""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise StatementError("date") from exc


def _camt(data: bytes) -> Statement:
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise StatementError("xml") from exc
    if not CAMT_NAMESPACE.match(root.tag) or _local(root) != "Document":
        raise StatementError("not_camt")
    report = _child(root, "BkToCstmrStmt")
    statements = [s for s in (report if report is not None else []) if _local(s) == "Stmt"]
    if not statements:
        raise StatementError("not_camt")
    entries: list[Entry] = []
    firsts, lasts = [], []
    for statement in statements:
        span = _child(statement, "FrToDt")
        if span is not None:
            firsts.append(_day(_text(span, "FrDtTm")))
            lasts.append(_day(_text(span, "ToDtTm")))
        for entry in statement:
            if _local(entry) != "Ntry":
                continue
            if len(entries) >= MAX_ENTRIES:
                raise StatementError("too_many")
            entries.append(_camt_entry(entry))
    return _period("camt.053", entries, min(firsts, default=None), max(lasts, default=None))


def _camt_entry(entry: Element) -> Entry:
    amount = _child(entry, "Amt")
    if amount is None or not amount.get("Ccy"):
        raise StatementError("entry")
    currency = str(amount.get("Ccy")).upper()
    value = _minor((amount.text or "").strip(), currency)
    sign = _text(entry, "CdtDbtInd")
    if sign not in ("CRDT", "DBIT"):
        raise StatementError("entry")
    booked = _text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm")
    texts = [
        (element.text or "").strip()
        for element in entry.iter()
        if _local(element) in ("Ustrd", "AddtlNtryInf", "EndToEndId", "AcctSvcrRef", "Ref")
    ]
    return Entry(_day(booked), value if sign == "CRDT" else -value, currency, " ".join(texts))


# -- MT940 -------------------------------------------------------------------------------------


def _mt940(data: bytes) -> Statement:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # German banks still send ISO 8859-1
    transactions = mt940.models.Transactions()
    try:
        transactions.parse(text)
    except Exception as exc:  # the library raises bare exceptions for broken input
        raise StatementError("mt940") from exc
    entries: list[Entry] = []
    for transaction in transactions:
        if len(entries) >= MAX_ENTRIES:
            raise StatementError("too_many")
        found = transaction.data
        amount = found.get("amount")
        booked = found.get("entry_date") or found.get("date")
        if amount is None or booked is None:
            raise StatementError("entry")
        currency = str(amount.currency).upper()
        words = " ".join(str(found[name]) for name in MT940_TEXTS if found.get(name))
        entries.append(Entry(date(booked.year, booked.month, booked.day),
                             _minor(amount.amount, currency), currency, words))  # fmt: skip
    if not entries:
        raise StatementError("empty")
    return _period("MT940", entries, None, None)
