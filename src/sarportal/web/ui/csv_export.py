"""CSV downloads: one writer for every export (a BOM so that spreadsheet programs read UTF-8,
the locale's delimiter, text that no spreadsheet runs as a formula, streamed row by row), and a
transaction's row in the user's locale and time zone."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_decimal_symbol
from flask import Response, stream_with_context

from sarportal.domain.money import minor_digits
from sarportal.provider.models import TransactionSummary

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A text cell that a spreadsheet will not run as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


class CsvFormat:
    """One row of the export in the user's locale and time zone; with `labels` (the page's
    `vocabulary()`), the status, settlement, method, customer type and dunning level in the
    user's words, as the table shows them."""

    def __init__(
        self, locale: str, tz: ZoneInfo, labels: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self.tz = tz
        self.decimal = get_decimal_symbol(locale)
        self.delimiter = ";" if self.decimal == "," else ","
        self._labels = labels or {}

    def label(self, kind: str, code: str | None) -> str:
        if not code:
            return ""
        return str(self._labels.get(kind, {}).get(code, code))

    def amount(self, minor: int, currency: str) -> str:
        text = f"{Decimal(minor).scaleb(-minor_digits(currency)):f}"
        return text.replace(".", self.decimal)

    def moment(self, value: datetime | None) -> str:
        return "" if value is None else value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def row(self, tx: TransactionSummary) -> list[str]:
        money = (tx.amount, tx.captured_amount, tx.refunded_amount, tx.cancelled_amount)
        return [
            tx.id,
            self.moment(tx.created_at),
            csv_text(tx.order_reference),
            csv_text(tx.shop),
            self.label("status", tx.status),
            self.label("settlement_status", tx.settlement_status),
            self.label("payment_method", tx.payment_method),
            tx.currency,
            *(self.amount(value, tx.currency) for value in money),
            tx.country,
            self.label("customer_type", tx.customer_type),
            self.moment(tx.authorization_expires_at),
            self.moment(tx.captured_at),
            tx.due_date.isoformat() if tx.due_date else "",
            self.moment(tx.paid_at),
            self.label("dunning_level", str(tx.dunning_level)),
        ]


def csv_lines(header: list[str], rows: Iterable[list[str]], delimiter: str) -> Iterator[str]:
    """The file as text chunks: the header with a BOM first, then one chunk per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    yield "\ufeff" + buffer.getvalue()  # the BOM makes spreadsheet programs read UTF-8
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue()


def csv_download(chunks: Iterator[str], filename: str) -> Response:
    """A streamed download of `chunks` as `filename` (the caller adds `no_store`)."""
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
