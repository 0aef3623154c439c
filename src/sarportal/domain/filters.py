"""The portal's transaction filters: parsed from a query string, turned into provider parameters.

`parse_filters(query, locale)` reads what a person chose to match on a page (a period preset
or custom dates, categories, an amount range typed in their locale, an order reference, a
"needs action" preset) into a frozen `TransactionFilters`, or raises `FilterError` with one
`FieldError` per bad field. It never raises anything else, whatever the query holds.
How the transactions table shows the matches (the sort, the page size) is not a filter: it is a
`TableView`, read by `parse_view`; `parse_table` reads both and reports their errors together.

A `TransactionFilters` gives
- `provider_params(now, tz)`: the provider's list filters (design §3), the period resolved in the
  user's time zone into a half-open UTC range of aware datetimes (the table adds its `order`);
- `query_pairs()` / `canonical_query()`: the canonical query string for URLs: a fixed key order,
  sorted values, defaults left out, amounts in a locale-independent form (`1234.56`), so a link
  means the same to every user who opens it. It holds filter values only, nothing personal.

`Paging` is the cursor position of the transactions table, kept in the query string as well.
Pure code: no Flask, no provider client; the statistics pages reuse it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.numbers import get_decimal_symbol

from sarportal.domain.money import MAX_MINOR_UNITS, AmountError, minor_digits, parse_amount
from sarportal.domain.vocabulary import (
    CUSTOMER_TYPES,
    DUNNING_LEVELS,
    PAYMENT_METHODS,
    SETTLEMENT_STATUSES,
    STATUSES,
)

__all__ = [
    "COUNTRIES",
    "CURRENCIES",
    "PAGE_SIZES",
    "FieldError",
    "FilterError",
    "Order",
    "Paging",
    "Period",
    "Preset",
    "QueryLike",
    "TableView",
    "TransactionFilters",
    "format_amount_input",
    "parse_filters",
    "parse_paging",
    "parse_table",
    "parse_view",
]

CURRENCIES = ("EUR", "CHF")
COUNTRIES = ("DE", "AT", "CH")
PAGE_SIZES = (25, 50, 100, 250)
DEFAULT_PAGE_SIZE = 50
DEFAULT_AMOUNT_CURRENCY = "EUR"
MAX_TEXT = 64
MAX_VALUES = 20
MAX_BACK_PAGES = 20
"""How many earlier cursors the table keeps in its URL; older pages are reached via page one."""
MAX_CURSOR = 512
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)

_CURSOR = re.compile(rf"[A-Za-z0-9_\-.~=]{{1,{MAX_CURSOR}}}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CODE3 = re.compile(r"[A-Z]{3}")
_CODE2 = re.compile(r"[A-Z]{2}")
E = TypeVar("E", bound=StrEnum)


class QueryLike(Protocol):
    """What the parser reads: a multi-valued mapping such as werkzeug's `MultiDict`."""

    def getlist(self, key: str) -> list[str]: ...


class Period(StrEnum):
    """Date-range presets; `CUSTOM` takes the from/to dates."""

    TODAY = "today"
    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_YEAR = "this_year"
    CUSTOM = "custom"


class Preset(StrEnum):
    """ "Needs action" views: each narrows the filters further (AND)."""

    AUTHORIZED = "authorized"  # authorized, not captured: soonest to expire first
    OVERDUE = "overdue"
    PARTIALLY_REFUNDED = "partially_refunded"


ProviderValue = str | int | datetime | list[str]
"""A value of the provider's list filters, before the provider client writes it as text."""


class Order(StrEnum):
    """Sort by creation time, amount or due date (the provider's `order`; ties by creation)."""

    NEWEST = "created_desc"
    OLDEST = "created_asc"
    AMOUNT_DESC = "amount_desc"
    AMOUNT_ASC = "amount_asc"
    DUE_DESC = "due_date_desc"
    DUE_ASC = "due_date_asc"

    @property
    def column(self) -> str:
        """The table column it sorts: "created", "amount" or "due_date"."""
        return self.value.rpartition("_")[0]

    @property
    def ascending(self) -> bool:
        return self.value.endswith("_asc")


_PRESET_STATUS = {Preset.AUTHORIZED: "authorized", Preset.PARTIALLY_REFUNDED: "partially_refunded"}
_PRESET_SETTLEMENT = {Preset.OVERDUE: "overdue"}


@dataclass(frozen=True)
class FieldError:
    """One refused field: `code` is a stable key the page turns into a sentence."""

    field: str
    code: str
    value: str = ""


class FilterError(ValueError):
    """The query holds values that are not filters; `errors` names each field."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.code}" for e in self.errors))

    def by_field(self) -> dict[str, FieldError]:
        """The first error of each field."""
        found: dict[str, FieldError] = {}
        for error in self.errors:
            found.setdefault(error.field, error)
        return found


@dataclass(frozen=True)
class TransactionFilters:
    """What a person asked to see; every collection is a sorted, duplicate-free tuple."""

    period: Period | None = None
    date_from: date | None = None
    date_to: date | None = None
    statuses: tuple[str, ...] = ()
    settlement_statuses: tuple[str, ...] = ()
    payment_methods: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    customer_types: tuple[str, ...] = ()
    shops: tuple[str, ...] = ()
    dunning_levels: tuple[int, ...] = ()
    amount_min: int | None = None
    amount_max: int | None = None
    order_reference: str | None = None
    preset: Preset | None = None

    # -- derived ---------------------------------------------------------------------------

    @property
    def amount_currency(self) -> str:
        """The currency whose decimals the amount range is written in."""
        return self.currencies[0] if len(self.currencies) == 1 else DEFAULT_AMOUNT_CURRENCY

    @property
    def effective_statuses(self) -> tuple[str, ...]:
        return _narrow(self.statuses, _PRESET_STATUS.get(self.preset) if self.preset else None)

    @property
    def effective_settlement_statuses(self) -> tuple[str, ...]:
        wanted = _PRESET_SETTLEMENT.get(self.preset) if self.preset else None
        return _narrow(self.settlement_statuses, wanted)

    @property
    def matches_nothing(self) -> bool:
        """Whether the preset contradicts a chosen status: no transaction can match."""
        if self.preset in _PRESET_STATUS and not self.effective_statuses:
            return True
        return self.preset in _PRESET_SETTLEMENT and not self.effective_settlement_statuses

    @property
    def is_default(self) -> bool:
        """Whether nothing is filtered."""
        return self == TransactionFilters()

    def created_range(self, now: datetime, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The period as a half-open UTC range [from, to); None where it is open."""
        today = now.astimezone(tz).date()
        tomorrow = today + timedelta(days=1)
        start: date | None
        end: date | None
        match self.period:
            case None:
                return None, None
            case Period.TODAY:
                start, end = today, tomorrow
            case Period.LAST_7_DAYS:
                start, end = today - timedelta(days=6), tomorrow
            case Period.LAST_30_DAYS:
                start, end = today - timedelta(days=29), tomorrow
            case Period.THIS_MONTH:
                start, end = today.replace(day=1), tomorrow
            case Period.LAST_MONTH:
                end = today.replace(day=1)
                start = (end - timedelta(days=1)).replace(day=1)
            case Period.THIS_YEAR:
                start, end = today.replace(month=1, day=1), tomorrow
            case Period.CUSTOM:
                start = self.date_from
                end = self.date_to + timedelta(days=1) if self.date_to else None
        return _midnight_utc(start, tz), _midnight_utc(end, tz)

    def provider_params(self, now: datetime, tz: ZoneInfo) -> dict[str, ProviderValue]:
        """The provider's list filters: what to match, the created range as aware datetimes
        (the provider client writes them, and every value, into the query string). How the
        table shows the matches is its `TableView`'s to add."""
        created_from, created_to = self.created_range(now, tz)
        params: dict[str, ProviderValue] = {}
        if created_from is not None:
            params["created_from"] = created_from
        if created_to is not None:
            params["created_to"] = created_to
        lists: dict[str, tuple[str, ...]] = {
            "status": self.effective_statuses,
            "settlement_status": self.effective_settlement_statuses,
            "payment_method": self.payment_methods,
            "currency": self.currencies,
            "country": self.countries,
            "customer_type": self.customer_types,
            "shop": self.shops,
            "dunning_level": tuple(str(level) for level in self.dunning_levels),
        }
        params.update({name: list(values) for name, values in lists.items() if values})
        if self.amount_min is not None:
            params["amount_min"] = self.amount_min
        if self.amount_max is not None:
            params["amount_max"] = self.amount_max
        if self.order_reference:
            params["order_reference"] = self.order_reference
        return params

    # -- the canonical query string ------------------------------------------------------------

    def query_pairs(self) -> list[tuple[str, str]]:
        """The filters as (key, value) pairs in a fixed order, defaults left out."""
        pairs: list[tuple[str, str]] = []
        if self.preset is not None:
            pairs.append(("preset", self.preset.value))
        if self.period is not None:
            pairs.append(("period", self.period.value))
        if self.date_from is not None:
            pairs.append(("from", self.date_from.isoformat()))
        if self.date_to is not None:
            pairs.append(("to", self.date_to.isoformat()))
        for key, values in (
            ("status", self.statuses),
            ("settlement_status", self.settlement_statuses),
            ("payment_method", self.payment_methods),
            ("currency", self.currencies),
            ("country", self.countries),
            ("customer_type", self.customer_types),
            ("shop", self.shops),
            ("dunning_level", tuple(str(level) for level in self.dunning_levels)),
        ):
            pairs.extend((key, value) for value in values)
        digits = minor_digits(self.amount_currency)
        if self.amount_min is not None:
            pairs.append(("amount_min", _plain_amount(self.amount_min, digits)))
        if self.amount_max is not None:
            pairs.append(("amount_max", _plain_amount(self.amount_max, digits)))
        if self.order_reference:
            pairs.append(("order_reference", self.order_reference))
        return pairs

    def canonical_query(self) -> str:
        """The query string (without '?') that `parse_filters` reads back into these filters."""
        return urlencode(self.query_pairs())

    def replace(self, **changes: object) -> TransactionFilters:
        """A copy with `changes` (field names as in the dataclass)."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TableView:
    """How the transactions table shows what the filters match: the sort and the page size.

    Kept apart from `TransactionFilters`, so the statistics, a count and a saved filter never
    carry (or have to strip) a sort order."""

    order: Order | None = None
    per_page: int = DEFAULT_PAGE_SIZE

    def effective_order(self, filters: TransactionFilters) -> Order:
        """The chosen sort, else the preset's (soonest expiry first), else newest first."""
        if self.order is not None:
            return self.order
        return Order.OLDEST if filters.preset is Preset.AUTHORIZED else Order.NEWEST

    def provider_params(self, filters: TransactionFilters) -> dict[str, ProviderValue]:
        """The provider's list parameters for this view: its `order` and page `limit`."""
        return {"order": self.effective_order(filters).value, "limit": self.per_page}

    def query_pairs(self) -> list[tuple[str, str]]:
        """The view's (key, value) pairs, after the filters' in a URL; defaults left out."""
        pairs: list[tuple[str, str]] = []
        if self.order is not None:
            pairs.append(("order", self.order.value))
        if self.per_page != DEFAULT_PAGE_SIZE:
            pairs.append(("per_page", str(self.per_page)))
        return pairs

    def replace(self, **changes: object) -> TableView:
        return replace(self, **changes)  # type: ignore[arg-type]


def _narrow(chosen: tuple[str, ...], wanted: str | None) -> tuple[str, ...]:
    if wanted is None:
        return chosen
    if not chosen:
        return (wanted,)
    return (wanted,) if wanted in chosen else ()


def _midnight_utc(day: date | None, tz: ZoneInfo) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _plain_amount(minor: int, digits: int) -> str:
    if digits == 0:
        return str(minor)
    whole, fraction = divmod(minor, 10**digits)
    return f"{whole}.{fraction:0{digits}d}"


def format_amount_input(minor: int | None, currency: str, locale: str) -> str:
    """An amount as a person types it in `locale` (`1234,56` in de), for a form field."""
    if minor is None:
        return ""
    digits = minor_digits(currency)
    plain = _plain_amount(minor, digits)
    return plain.replace(".", get_decimal_symbol(locale)) if digits else plain


# -- parsing ---------------------------------------------------------------------------------


class _Reader:
    """Collects values and errors while reading a query."""

    def __init__(self, query: QueryLike) -> None:
        self.query = query
        self.errors: list[FieldError] = []

    def values(self, key: str) -> list[str]:
        try:
            found = self.query.getlist(key)
        except (TypeError, ValueError):
            found = []
        cleaned = [value.strip() for value in found if isinstance(value, str)]
        return [value for value in cleaned if value]

    def one(self, key: str) -> str | None:
        found = self.values(key)
        return found[-1] if found else None

    def fail(self, key: str, code: str, value: str = "") -> None:
        self.errors.append(FieldError(key, code, value[:MAX_TEXT]))

    def choices(self, key: str, allowed: Iterable[str]) -> tuple[str, ...]:
        options = tuple(allowed)
        found = self.values(key)
        if len(found) > MAX_VALUES:
            self.fail(key, "too_many")
            return ()
        bad = [value for value in found if value not in options]
        if bad:
            self.fail(key, "choice", bad[0])
            return ()
        return tuple(value for value in options if value in found)

    def codes(self, key: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
        found = [value.upper() for value in self.values(key)]
        if len(found) > MAX_VALUES:
            self.fail(key, "too_many")
            return ()
        bad = [value for value in found if not pattern.fullmatch(value)]
        if bad:
            self.fail(key, "choice", bad[0])
            return ()
        return tuple(sorted(set(found)))

    def texts(self, key: str) -> tuple[str, ...]:
        found = self.values(key)
        if len(found) > MAX_VALUES:
            self.fail(key, "too_many")
            return ()
        for value in found:
            if not _clean_text(value):
                self.fail(key, "text", value)
                return ()
        return tuple(sorted(set(found)))

    def enum(self, key: str, kind: type[E]) -> E | None:
        value = self.one(key)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            self.fail(key, "choice", value)
            return None

    def day(self, key: str) -> date | None:
        value = self.one(key)
        if value is None:
            return None
        if not _ISO_DATE.fullmatch(value):
            self.fail(key, "date", value)
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.fail(key, "date", value)
            return None
        if not EARLIEST_DATE <= parsed <= LATEST_DATE:
            self.fail(key, "date_range", value)
            return None
        return parsed

    def amount(self, key: str, currency: str, locale: str) -> int | None:
        value = self.one(key)
        if value is None:
            return None
        digits = minor_digits(currency)
        plain = r"\d{1,13}" + (rf"\.\d{{{digits}}}" if digits else "")
        try:
            if re.fullmatch(plain, value):
                # the canonical, locale-independent form of a shared link
                minor = int(value.replace(".", ""))
                if minor > MAX_MINOR_UNITS:
                    raise AmountError("too_large", "The amount is too large.")
                return minor
            return parse_amount(value, currency, locale, allow_zero=True)
        except AmountError as error:
            self.fail(key, f"amount_{error.reason}", value)
        except (ValueError, ArithmeticError, LookupError):
            self.fail(key, "amount_format", value)
        return None


QueryReader = _Reader
"""Reads a query's values, collecting one `FieldError` per refused field (shared by the filters
of other pages, such as the payouts)."""


def _clean_text(value: str) -> bool:
    return len(value) <= MAX_TEXT and value.isprintable()


def parse_filters(query: QueryLike | Mapping[str, str], locale: str = "en") -> TransactionFilters:
    """Read the filters from a query; raise `FilterError` naming each field that is wrong."""
    reader = _Reader(query if hasattr(query, "getlist") else _Single(query))
    preset = reader.enum("preset", Preset)
    period = reader.enum("period", Period)
    date_from = reader.day("from")
    date_to = reader.day("to")
    if period is None and (date_from or date_to):
        period = Period.CUSTOM
    if period is not Period.CUSTOM:
        date_from = date_to = None
    elif date_from and date_to and date_from > date_to:
        reader.fail("to", "date_order", date_to.isoformat())
    currencies = reader.codes("currency", _CODE3)
    amount_currency = currencies[0] if len(currencies) == 1 else DEFAULT_AMOUNT_CURRENCY
    try:
        minor_digits(amount_currency)
    except (ValueError, LookupError):
        amount_currency = DEFAULT_AMOUNT_CURRENCY
    locale = locale if locale.split("_")[0] in ("de", "en") else "en"  # the languages written
    amount_min = reader.amount("amount_min", amount_currency, locale)
    amount_max = reader.amount("amount_max", amount_currency, locale)
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        reader.fail("amount_max", "amount_order")
    order_reference = reader.one("order_reference")
    if order_reference is not None and not _clean_text(order_reference):
        reader.fail("order_reference", "text", order_reference)
        order_reference = None
    levels = reader.choices("dunning_level", [str(level) for level in DUNNING_LEVELS])
    filters = TransactionFilters(
        period=period,
        date_from=date_from,
        date_to=date_to,
        statuses=reader.choices("status", STATUSES),
        settlement_statuses=reader.choices("settlement_status", SETTLEMENT_STATUSES),
        payment_methods=reader.choices("payment_method", PAYMENT_METHODS),
        currencies=currencies,
        countries=reader.codes("country", _CODE2),
        customer_types=reader.choices("customer_type", CUSTOMER_TYPES),
        shops=reader.texts("shop"),
        dunning_levels=tuple(int(level) for level in levels),
        amount_min=amount_min,
        amount_max=amount_max,
        order_reference=order_reference,
        preset=preset,
    )
    if reader.errors:
        raise FilterError(reader.errors)
    return filters


def parse_view(query: QueryLike | Mapping[str, str]) -> TableView:
    """Read the table's `order` and `per_page`; raise `FilterError` naming the bad ones."""
    reader = _Reader(query if hasattr(query, "getlist") else _Single(query))
    order = reader.enum("order", Order)
    per_page = DEFAULT_PAGE_SIZE
    size = reader.one("per_page")
    if size is not None:
        if size.isdigit() and int(size) in PAGE_SIZES:
            per_page = int(size)
        else:
            reader.fail("per_page", "choice", size)
    if reader.errors:
        raise FilterError(reader.errors)
    return TableView(order, per_page)


def parse_table(query: QueryLike, locale: str = "en") -> tuple[TransactionFilters, TableView]:
    """Read the table's filters and view; one `FilterError` holds the bad fields of both."""
    errors: list[FieldError] = []
    filters, view = TransactionFilters(), TableView()
    try:
        filters = parse_filters(query, locale)
    except FilterError as error:
        errors.extend(error.errors)
    try:
        view = parse_view(query)
    except FilterError as error:
        errors.extend(error.errors)
    if errors:
        raise FilterError(errors)
    return filters, view


class _Single:
    """A plain mapping read as a multi-valued one."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping

    def getlist(self, key: str) -> list[str]:
        value = self._mapping.get(key)
        return [] if value is None else [value]


# -- paging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paging:
    """Where the table is: page `page`, fetched with `cursor`, and the cursors before it.

    The provider's cursor only goes forward, so the URL keeps the cursors of the pages before
    this one (`prev`, oldest first), at most `MAX_BACK_PAGES` of them: going further back than
    that leads to page one.
    """

    cursor: str | None = None
    previous: tuple[str, ...] = field(default=())
    page: int = 1

    @property
    def is_first(self) -> bool:
        return self.cursor is None

    @property
    def can_step_back(self) -> bool:
        """Whether "previous" reaches exactly the page before (not just page one)."""
        return self.cursor is not None and (bool(self.previous) or self.page == 2)

    def forward(self, next_cursor: str) -> Paging:
        """The next page, reached with the provider's `next_cursor`."""
        previous = self.previous + ((self.cursor,) if self.cursor else ())
        return Paging(next_cursor, previous[-MAX_BACK_PAGES:], self.page + 1)

    def back(self) -> Paging:
        """The page before (page one when the earlier cursors were dropped)."""
        if not self.can_step_back or not self.previous:
            return Paging()
        return Paging(self.previous[-1], self.previous[:-1], self.page - 1)

    def query_pairs(self) -> list[tuple[str, str]]:
        if self.cursor is None:
            return []
        pairs = [("page", str(self.page)), ("cursor", self.cursor)]
        return pairs + [("prev", cursor) for cursor in self.previous]


def parse_paging(query: QueryLike) -> Paging:
    """Read `cursor`, `prev` and `page`; raise `FilterError` (field `cursor`) if malformed."""
    reader = _Reader(query)
    cursor = reader.one("cursor")
    previous = reader.values("prev")
    page_text = reader.one("page")
    if cursor is None:
        return Paging()
    tokens = [cursor, *previous]
    if len(previous) > MAX_BACK_PAGES or not all(_CURSOR.fullmatch(t) for t in tokens):
        raise FilterError([FieldError("cursor", "cursor")])
    page = int(page_text) if page_text and page_text.isdigit() and len(page_text) < 7 else 0
    page = max(page, len(previous) + 2)
    return Paging(cursor, tuple(previous), page)
