"""The filter form every page with filters shares (the table, the dashboard, the counter): its
values, the translated names of every choice, and a sentence for each refused field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from babel import Locale
from babel.numbers import get_decimal_symbol, get_group_symbol
from flask_babel import gettext as _

from sarportal.domain.filters import (
    COUNTRIES,
    CURRENCIES,
    PAGE_SIZES,
    FieldError,
    FilterError,
    Period,
    Preset,
    QueryLike,
    TableView,
    TransactionFilters,
    format_amount_input,
)
from sarportal.web.ui import labels
from sarportal.web.ui.locale import current_locale, per_locale

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
    def from_filters(
        cls, filters: TransactionFilters, locale: str, view: TableView | None = None
    ) -> FilterForm:
        """The form showing `filters` (and the table's `view`, on the transactions page)."""
        currency = filters.amount_currency
        single = {
            "period": filters.period.value if filters.period else "",
            "from": filters.date_from.isoformat() if filters.date_from else "",
            "to": filters.date_to.isoformat() if filters.date_to else "",
            "amount_min": format_amount_input(filters.amount_min, currency, locale),
            "amount_max": format_amount_input(filters.amount_max, currency, locale),
            "order_reference": filters.order_reference or "",
            "order": view.effective_order(filters).value if view else "",
            "per_page": str(view.per_page) if view else "",
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
