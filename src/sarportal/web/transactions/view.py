"""What the transactions templates show: rows, the inline alert, links, the sort order in words.

The filter form and the words of its choices are `web.ui.filter_form` (shared with the
statistics pages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from flask import url_for
from flask_babel import gettext as _

from sarportal.domain.filters import (
    Order,
    Paging,
    Preset,
    TableView,
    TransactionFilters,
)
from sarportal.provider.models import TransactionSummary
from sarportal.web.ui.filter_form import vocabulary
from sarportal.web.ui.formats import format_day, format_moment, format_money
from sarportal.web.ui.locale import request_formats
from sarportal.web.ui.templating import MISSING


@dataclass(frozen=True, slots=True)
class TableRow:
    """One transaction as a row of the table shows it, its values already formatted: a page has
    many rows, and a template spends more on calling a filter than the filter on formatting."""

    id: str
    created: str
    order_reference: str
    amount: str
    status: str
    status_tone: str
    settlement: str | None  # None: no invoice yet
    settlement_tone: str
    payment_method: str
    country: str
    country_name: str
    due: str


def table_rows(transactions: Sequence[TransactionSummary]) -> list[TableRow]:
    """The table's rows in the request's language and time zone."""
    words, formats = vocabulary(), request_formats()
    status_names, status_tones = words["status"], words["status_tone"]
    settlement_names, settlement_tones = words["settlement_status"], words["settlement_tone"]
    methods, countries = words["payment_method"], words["country"]
    rows = []
    for tx in transactions:
        settled = tx.settlement_status
        rows.append(
            TableRow(
                id=tx.id,
                created=format_moment(tx.created_at, formats.locale, formats.zone, "short"),
                order_reference=tx.order_reference,
                amount=format_money(tx.amount, tx.currency, formats.locale),
                status=status_names.get(tx.status, tx.status),
                status_tone=status_tones.get(tx.status, "secondary"),
                settlement=settlement_names.get(settled, settled) if settled else None,
                settlement_tone=settlement_tones.get(settled, "secondary") if settled else "",
                payment_method=methods.get(tx.payment_method, tx.payment_method),
                country=tx.country,
                country_name=countries.get(tx.country, tx.country),
                due=format_day(tx.due_date, formats.locale, formats.zone, "short")
                if tx.due_date
                else MISSING,
            )
        )
    return rows


@dataclass(frozen=True)
class InlineAlert:
    """A message shown in place of the table."""

    title: str
    detail: str


def table_url(
    filters: TransactionFilters | None,
    paging: Paging | None = None,
    view: TableView | None = None,
    **changes: Any,
) -> str:
    """The table's URL for `filters` with `changes`, shown as `view` (default: newest first,
    50 rows), at `paging` (default: the first page)."""
    base: str = url_for("transactions.index")
    if filters is None:
        return base
    if changes:
        filters = filters.replace(**changes)
    pairs = filters.query_pairs() + (view.query_pairs() if view else [])
    pairs += paging.query_pairs() if paging else []
    return f"{base}?{urlencode(pairs)}" if pairs else base


def preset_url(filters: TransactionFilters | None, preset: str, view: TableView | None) -> str:
    """The table with the "needs action" preset switched on (or off, when it is on)."""
    chosen = Preset(preset)
    if filters is None:
        return table_url(TransactionFilters(preset=chosen))
    return table_url(filters, None, view, preset=None if filters.preset is chosen else chosen)


def export_url(filters: TransactionFilters | None, view: TableView | None) -> str:
    """The CSV export of exactly these filters, in the table's order."""
    base: str = url_for("transactions.export")
    pairs = filters.query_pairs() if filters else []
    pairs += TableView(view.order).query_pairs() if view else []
    return f"{base}?{urlencode(pairs)}" if pairs else base


SORTABLE: Final = {
    "created": (Order.NEWEST, Order.OLDEST),
    "amount": (Order.AMOUNT_DESC, Order.AMOUNT_ASC),
    "due_date": (Order.DUE_ASC, Order.DUE_DESC),
}
"""Each sortable column's orders, the one a first click gives first: the newest, the largest
amount, the soonest due date."""


def order_words(order: Order) -> str:
    """How the table is sorted, for its caption and the headers' links: "largest amount first"."""
    words: dict[Order, str] = {
        Order.NEWEST: _("newest first"),
        Order.OLDEST: _("oldest first"),
        Order.AMOUNT_DESC: _("largest amount first"),
        Order.AMOUNT_ASC: _("smallest amount first"),
        Order.DUE_ASC: _("soonest due date first"),
        Order.DUE_DESC: _("latest due date first"),
    }
    return words[order]


def sort_toggle(filters: TransactionFilters, view: TableView, column: str = "created") -> Order:
    """The order a click on `column`'s header gives: its first order, or the other way round
    when the table is sorted by it already."""
    first, second = SORTABLE[column]
    return second if view.effective_order(filters) is first else first
