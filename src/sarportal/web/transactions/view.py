"""What the transactions templates show: form state, rows, translated words, messages, links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from babel import Locale
from babel.numbers import get_decimal_symbol, get_group_symbol
from flask import url_for
from flask_babel import gettext as _

from sarportal.domain.filters import (
    COUNTRIES,
    CURRENCIES,
    PAGE_SIZES,
    FieldError,
    FilterError,
    Order,
    Paging,
    Period,
    Preset,
    QueryLike,
    TransactionFilters,
    format_amount_input,
)
from sarportal.provider.models import TransactionSummary
from sarportal.web.ui import labels
from sarportal.web.ui.formats import format_day, format_moment, format_money
from sarportal.web.ui.frontend import MISSING, current_locale, per_locale, request_formats

_LISTS = (
    "status",
    "settlement_status",
    "payment_method",
    "currency",
    "country",
    "customer_type",
    "dunning_level",
    "shop",
)


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


@dataclass(frozen=True)
class FilterForm:
    """The filter form's values: the user's own text after an error, else the parsed filters."""

    single: Mapping[str, str] = field(default_factory=dict)
    chosen: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.single.get(name, "")

    def has(self, name: str, value: object) -> bool:
        return str(value) in self.chosen.get(name, frozenset())

    def count(self, name: str) -> int:
        return len(self.chosen.get(name, frozenset()))

    @property
    def more_open(self) -> bool:
        """Whether the "more filters" section holds a value (and so starts open)."""
        names = ("customer_type", "dunning_level", "shop")
        singles = ("amount_min", "amount_max", "order_reference")
        return any(self.count(n) for n in names) or any(self.value(n) for n in singles)

    @classmethod
    def from_query(cls, query: QueryLike, locale: str) -> FilterForm:
        single = {}
        for name in (
            "period", "from", "to", "amount_min", "amount_max", "order_reference", "order",
            "per_page", "preset",
        ):  # fmt: skip
            values = [v.strip() for v in query.getlist(name) if v.strip()]
            if values:
                single[name] = values[-1][:200]
        chosen = {name: frozenset(v.strip() for v in query.getlist(name)) for name in _LISTS}
        return cls(single, chosen)

    @classmethod
    def from_filters(cls, filters: TransactionFilters, locale: str) -> FilterForm:
        currency = filters.amount_currency
        single = {
            "period": filters.period.value if filters.period else "",
            "from": filters.date_from.isoformat() if filters.date_from else "",
            "to": filters.date_to.isoformat() if filters.date_to else "",
            "amount_min": format_amount_input(filters.amount_min, currency, locale),
            "amount_max": format_amount_input(filters.amount_max, currency, locale),
            "order_reference": filters.order_reference or "",
            "order": filters.effective_order.value,
            "per_page": str(filters.per_page),
            "preset": filters.preset.value if filters.preset else "",
        }
        chosen: dict[str, frozenset[str]] = {}
        for key, value in filters.query_pairs():
            if key in _LISTS:
                chosen[key] = chosen.get(key, frozenset()) | {value}
        return cls(single, chosen)


@per_locale
def vocabulary() -> dict[str, Any]:
    """The translated names of every choice the page offers."""
    locale = Locale.parse(current_locale())
    return {
        "status": _translated(labels.STATUS),
        "settlement_status": _translated(labels.SETTLEMENT),
        "payment_method": _translated(labels.PAYMENT_METHOD),
        "customer_type": _translated(labels.CUSTOMER_TYPE),
        "dunning_level": _translated(labels.DUNNING_LEVEL),
        "currency": {code: code for code in CURRENCIES},
        "country": {code: locale.territories.get(code, code) for code in COUNTRIES},
        "period": {
            Period.TODAY.value: _("Today"),
            Period.LAST_7_DAYS.value: _("Last 7 days"),
            Period.LAST_30_DAYS.value: _("Last 30 days"),
            Period.THIS_MONTH.value: _("This month"),
            Period.LAST_MONTH.value: _("Last month"),
            Period.THIS_YEAR.value: _("This year"),
            Period.CUSTOM.value: _("Custom range"),
        },
        "preset": {
            Preset.AUTHORIZED.value: _("Authorized, not captured"),
            Preset.OVERDUE.value: _("Overdue"),
            Preset.PARTIALLY_REFUNDED.value: _("Partially refunded"),
        },
        "page_sizes": PAGE_SIZES,
        "status_tone": labels.STATUS_TONE,
        "settlement_tone": labels.SETTLEMENT_TONE,
    }


def _translated(table: Mapping[Any, Any]) -> dict[str, str]:
    """A label table translated into the request's language, keyed as a query string has it."""
    return {str(code): str(label) for code, label in table.items()}


def field_messages(error: FilterError, locale: str) -> dict[str, str]:
    """One sentence per refused field, in the user's language."""
    return {name: _message(found, locale) for name, found in error.by_field().items()}


def _message(error: FieldError, locale: str) -> str:
    example = f"1{get_group_symbol(locale)}234{get_decimal_symbol(locale)}56"
    messages: dict[str, str] = {
        "choice": _("Please choose one of the offered values."),
        "too_many": _("Please choose fewer values."),
        "text": _("Please enter at most 64 characters, without line breaks."),
        "date": _("Please enter a date like 2025-03-31."),
        "date_range": _("Please enter a date between 2000 and 2099."),
        "date_order": _("The end date must not be before the start date."),
        "amount_format": _("Please enter the amount like %(example)s.", example=example),
        "amount_empty": _("Please enter the amount like %(example)s.", example=example),
        "amount_precision": _("Please enter at most two decimal places."),
        "amount_negative": _("The amount must not be negative."),
        "amount_not_positive": _("The amount must not be negative."),
        "amount_too_large": _("The amount is too large."),
        "amount_order": _("The maximum must not be below the minimum."),
        "cursor": _("This page link is no longer valid. Here is the first page."),
    }
    fallback: str = _("Please check this value.")
    return messages.get(error.code, fallback)


@per_locale
def field_labels() -> dict[str, str]:
    """The names of the form's fields, for the error summary."""
    return {
        "preset": _("Needs action"),
        "period": _("Period"),
        "from": _("From"),
        "to": _("To"),
        "status": _("Status"),
        "settlement_status": _("Settlement"),
        "payment_method": _("Payment method"),
        "currency": _("Currency"),
        "country": _("Country"),
        "customer_type": _("Customer type"),
        "dunning_level": _("Dunning level"),
        "shop": _("Shop"),
        "amount_min": _("Amount from"),
        "amount_max": _("Amount to"),
        "order_reference": _("Order reference"),
        "order": _("Sort"),
        "per_page": _("Rows per page"),
    }


def table_url(
    filters: TransactionFilters | None, paging: Paging | None = None, **changes: Any
) -> str:
    """The table's URL for `filters` with `changes`, at `paging` (default: the first page)."""
    base: str = url_for("transactions.index")
    if filters is None:
        return base
    if changes:
        filters = filters.replace(**changes)
    pairs = filters.query_pairs() + (paging.query_pairs() if paging else [])
    return f"{base}?{urlencode(pairs)}" if pairs else base


def preset_url(filters: TransactionFilters | None, preset: str) -> str:
    """The table with the "needs action" preset switched on (or off, when it is on)."""
    chosen = Preset(preset)
    if filters is None:
        return table_url(TransactionFilters(preset=chosen))
    return table_url(filters, preset=None if filters.preset is chosen else chosen)


def export_url(filters: TransactionFilters | None) -> str:
    """The CSV export of exactly these filters."""
    base: str = url_for("transactions.export")
    query = filters.canonical_query() if filters else ""
    return f"{base}?{query}" if query else base


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


def sort_toggle(filters: TransactionFilters, column: str = "created") -> Order:
    """The order a click on `column`'s header gives: its first order, or the other way round
    when the table is sorted by it already."""
    first, second = SORTABLE[column]
    return second if filters.effective_order is first else first
