"""Query parameters and bodies, validated into plain values; every refusal names the parameter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from sarportal.sandbox import vocab as v
from sarportal.sandbox.book import Filters
from sarportal.sandbox.claims import REASONS as CLAIM_REASONS
from sarportal.sandbox.claims import STATUSES as CLAIM_STATUSES
from sarportal.sandbox.claims import ClaimFilters
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.payouts import STATUSES as PAYOUT_STATUSES
from sarportal.sandbox.payouts import PayoutFilters

LIST_PARAMS = frozenset(
    {
        "created_from", "created_to", "status", "settlement_status", "payment_method", "currency",
        "country", "customer_type", "shop", "dunning_level", "amount_min", "amount_max",
        "order_reference", "limit", "cursor", "order", "include_total",
    }
)  # fmt: skip
CUSTOMER_LIST_PARAMS = frozenset({"limit", "cursor", "order"})
PAYOUT_LIST_PARAMS = frozenset(
    {"arrival_from", "arrival_to", "status", "currency", "limit", "cursor", "include_totals"}
)
PAYOUT_LINES_PARAMS = frozenset({"limit", "cursor"})
PAYOUT_EXPORT_PARAMS = frozenset({"format"})
PAYOUT_FORMATS = ("csv", "datev", "camt053")
CLAIM_LIST_PARAMS = frozenset(
    {"status", "reason", "respond_by_before", "transaction_id", "currency", "limit", "cursor",
     "order", "include_total"}
)  # fmt: skip
CLAIM_ORDERS = ("respond_by_asc", "created_desc")
TRANSACTION_ID = re.compile(r"tx_[0-9a-f]{16}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_BODY = 16 * 1024
CURRENCY = re.compile(r"[A-Z]{3}")
COUNTRY = re.compile(r"[A-Z]{2}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
MAX_AMOUNT = 10**12


@dataclass(frozen=True)
class ListQuery:
    filters: Filters
    sort: str  # "created", "amount" or "due_date"
    ascending: bool
    limit: int
    after: tuple[int, ...] | None  # the position a cursor points after
    include_total: bool

    @property
    def order(self) -> str:
        return f"{self.sort}_{'asc' if self.ascending else 'desc'}"


ORDERS = tuple(
    f"{key}_{way}" for key in ("created", "amount", "due_date") for way in ("desc", "asc")
)


def parse_query(raw: bytes, allowed: frozenset[str]) -> dict[str, list[str]]:
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem.invalid("query", "The query string is not valid.") from exc
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in allowed:
            raise Problem.invalid(name, f"Unknown query parameter '{name}'.")
        params.setdefault(name, []).append(value)
    return params


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise Problem.invalid(name, f"'{name}' may be given only once.")
    return values[0]


def _integer(params: dict[str, list[str]], name: str, low: int, high: int) -> int | None:
    text = _single(params, name)
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,13}", text) or not low <= int(text) <= high:
        raise Problem.invalid(name, f"'{name}' must be an integer from {low} to {high}.")
    return int(text)


def _time(params: dict[str, list[str]], name: str) -> int | None:
    text = _single(params, name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Problem.invalid(name, f"'{name}' must be an RFC 3339 date-time.") from exc
    if moment.tzinfo is None or "T" not in text.upper():
        raise Problem.invalid(name, f"'{name}' must be an RFC 3339 date-time with a time zone.")
    return int(moment.timestamp())


def _choices(
    params: dict[str, list[str]], name: str, vocabulary: Sequence[str | None]
) -> frozenset[int] | None:
    values = params.get(name)
    if values is None:
        return None
    codes = set()
    for value in values:
        if value not in vocabulary:
            known = ", ".join(x for x in vocabulary if x is not None)
            raise Problem.invalid(name, f"'{value}' is not a valid {name}; use one of {known}.")
        codes.add(vocabulary.index(value))
    return frozenset(codes)


def _codes(
    params: dict[str, list[str]], name: str, pattern: re.Pattern[str], vocabulary: Sequence[str]
) -> frozenset[int] | None:
    """Codes of well-formed values; a well-formed value we do not know simply matches nothing."""
    values = params.get(name)
    if values is None:
        return None
    for value in values:
        if not pattern.fullmatch(value):
            raise Problem.invalid(name, f"'{value}' is not a valid {name} code.")
    return frozenset(vocabulary.index(x) for x in values if x in vocabulary)


def _boolean(params: dict[str, list[str]], name: str) -> bool:
    text = _single(params, name) or "false"
    if text not in ("true", "false"):
        raise Problem.invalid(name, f"'{name}' must be true or false.")
    return text == "true"


def parse_filters(params: dict[str, list[str]], shops: Sequence[str]) -> Filters:
    created_from = _time(params, "created_from")
    created_to = _time(params, "created_to")
    amount_min = _integer(params, "amount_min", 0, MAX_AMOUNT)
    amount_max = _integer(params, "amount_max", 0, MAX_AMOUNT)
    reference = _single(params, "order_reference")
    if reference is not None and not 1 <= len(reference) <= 64:
        raise Problem.invalid("order_reference", "'order_reference' must have 1 to 64 characters.")
    dunning = params.get("dunning_level")
    if dunning is not None and any(d not in ("0", "1", "2", "3", "4") for d in dunning):
        raise Problem.invalid("dunning_level", "'dunning_level' must be an integer from 0 to 4.")
    shop = params.get("shop")
    if shop is not None and any(not 1 <= len(s) <= 64 for s in shop):
        raise Problem.invalid("shop", "'shop' must have 1 to 64 characters.")
    return Filters(
        created_from=created_from,
        created_to=created_to,
        status=_choices(params, "status", v.STATUSES),
        settlement=_choices(params, "settlement_status", v.SETTLEMENTS),
        method=_choices(params, "payment_method", v.PAYMENT_METHODS),
        currency=_codes(params, "currency", CURRENCY, v.CURRENCIES),
        country=_codes(params, "country", COUNTRY, v.COUNTRIES),
        customer_type=_choices(params, "customer_type", v.CUSTOMER_TYPES),
        shop=None if shop is None else frozenset(shops.index(s) for s in shop if s in shops),
        dunning=None if dunning is None else frozenset(int(d) for d in dunning),
        amount_min=amount_min,
        amount_max=amount_max,
        order_reference=reference,
    )


class Cursors:
    """Opaque, signed cursors: a position, valid only for the filters and order it came from.
    The filters are anything with a stable repr (a frozen dataclass, a payout's id)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, filters: object, order: str, position: str) -> str:
        message = f"{filters!r}|{order}|{position}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:20]

    def issue(self, filters: object, order: str, position: tuple[int, ...]) -> str:
        text = ":".join(str(part) for part in position)
        text = f"{text}.{self._mac(filters, order, text)}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def read(
        self, cursor: str, filters: object, order: str, length: int | None = None
    ) -> tuple[int, ...]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
            position_text, mac = text.split(".", 1)
            position = tuple(int(part) for part in position_text.split(":"))
        except (ValueError, UnicodeError) as exc:
            raise Problem.invalid("cursor", "The cursor is not valid.") from exc
        if not hmac.compare_digest(mac, self._mac(filters, order, position_text)):
            raise Problem.invalid(
                "cursor", "The cursor is not valid for these filters and this order."
            )
        if length is not None and len(position) != length:
            raise Problem.invalid(
                "cursor", "The cursor is not valid for these filters and this order."
            )
        return position


@dataclass(frozen=True)
class Paging:
    """What a list endpoint allows: its orders and its page sizes."""

    orders: tuple[str, ...] = ORDERS
    max_limit: int = 1000
    default_limit: int = 100


LIST_PAGING = Paging()
EXPORT_PAGING = Paging(
    orders=("created_desc", "created_asc"), max_limit=10_000, default_limit=10_000
)


def parse_list(
    params: dict[str, list[str]],
    shops: Sequence[str],
    cursors: Cursors,
    customer: int | None = None,
    paging: Paging = LIST_PAGING,
) -> ListQuery:
    filters = parse_filters(params, shops)
    if customer is not None:
        filters = replace(filters, customer=customer)
    order = _single(params, "order") or "created_desc"
    if order not in paging.orders:
        raise Problem.invalid("order", f"'order' must be one of {', '.join(paging.orders)}.")
    sort, _, way = order.rpartition("_")
    limit = _integer(params, "limit", 1, paging.max_limit) or paging.default_limit
    include_total = _boolean(params, "include_total")
    cursor = _single(params, "cursor")
    length = 1 if sort == "created" else 2
    after = None if cursor is None else cursors.read(cursor, filters, order, length)
    return ListQuery(filters, sort, way == "asc", limit, after, include_total)


def json_body(raw: bytes, fields: dict[str, type]) -> dict[str, Any]:
    """A JSON object body with exactly the known fields (all required), or a clear refusal."""
    if len(raw) > MAX_BODY:
        raise Problem.invalid("body", f"The body is larger than {MAX_BODY} bytes.")
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise Problem.invalid("body", "The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise Problem.invalid("body", "The body must be a JSON object.")
    for name in body:
        if name not in fields:
            raise Problem.invalid(name, f"Unknown field '{name}'.")
    for name, kind in fields.items():
        if name not in body:
            raise Problem.invalid(name, f"'{name}' is required.")
        value = body[name]
        if kind is int and (type(value) is not int or not 1 <= value <= MAX_AMOUNT):
            raise Problem.invalid(name, f"'{name}' must be a positive integer in minor units.")
        if kind is str and (not isinstance(value, str) or not 1 <= len(value.strip()) <= 500):
            raise Problem.invalid(name, f"'{name}' must be a text of 1 to 500 characters.")
    return body


def idempotency_key(value: str | None) -> str:
    if value is None:
        raise Problem.invalid("Idempotency-Key", "The Idempotency-Key header is required.")
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise Problem.invalid(
            "Idempotency-Key", "The Idempotency-Key must be 1 to 255 printable ASCII characters."
        )
    return value


@dataclass(frozen=True)
class PayoutListQuery:
    filters: PayoutFilters
    limit: int
    after: tuple[int, ...] | None  # (arrival day, currency rank) of the last payout seen
    include_totals: bool


PAYOUT_ORDER = "payouts_arrival_desc"
PAYOUT_LINES_ORDER = "payout_lines"


def _date(params: dict[str, list[str]], name: str) -> int | None:
    """A `YYYY-MM-DD` date as days since 1970-01-01."""
    text = _single(params, name)
    if text is None:
        return None
    try:
        day = date.fromisoformat(text) if DATE.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        raise Problem.invalid(name, f"'{name}' must be a date (YYYY-MM-DD).")
    return (day - date(1970, 1, 1)).days


def parse_payout_list(params: dict[str, list[str]], cursors: Cursors) -> PayoutListQuery:
    arrival_from, arrival_to = _date(params, "arrival_from"), _date(params, "arrival_to")
    if arrival_from is not None and arrival_to is not None and arrival_from >= arrival_to:
        raise Problem.invalid("arrival_to", "'arrival_to' must be after 'arrival_from'.")
    filters = PayoutFilters(
        arrival_from=arrival_from,
        arrival_to=arrival_to,
        status=_choices(params, "status", PAYOUT_STATUSES),
        currency=_codes(params, "currency", CURRENCY, v.CURRENCIES),
    )
    limit = _integer(params, "limit", 1, 100) or 20
    include_totals = _boolean(params, "include_totals")
    cursor = _single(params, "cursor")
    after = None if cursor is None else cursors.read(cursor, filters, PAYOUT_ORDER, 2)
    return PayoutListQuery(filters, limit, after, include_totals)


def parse_payout_lines(
    params: dict[str, list[str]], cursors: Cursors, payout_id: str
) -> tuple[int, tuple[int, ...] | None]:
    """The page size and the position after which the page starts, of a payout's lines."""
    limit = _integer(params, "limit", 1, 1000) or 100
    cursor = _single(params, "cursor")
    after = None if cursor is None else cursors.read(cursor, payout_id, PAYOUT_LINES_ORDER, 4)
    return limit, after


def parse_payout_format(params: dict[str, list[str]]) -> str:
    file_format = _single(params, "format")
    if file_format not in PAYOUT_FORMATS:
        raise Problem.invalid(
            "format", f"'format' is required: one of {', '.join(PAYOUT_FORMATS)}."
        )
    return file_format


@dataclass(frozen=True)
class ClaimListQuery:
    filters: ClaimFilters
    order: str
    limit: int
    after: int | None  # the list index a cursor points after
    include_total: bool


def parse_claim_list(
    params: dict[str, list[str]], cursors: Cursors, row_of_id: Callable[[str], int | None]
) -> ClaimListQuery:
    """A claim list's query; `row_of_id` maps a transaction id to its row (None: not ours)."""
    transaction = _single(params, "transaction_id")
    if transaction is not None and not TRANSACTION_ID.fullmatch(transaction):
        raise Problem.invalid("transaction_id", "'transaction_id' is not a transaction id.")
    row = None if transaction is None else row_of_id(transaction)
    filters = ClaimFilters(
        status=_choices(params, "status", CLAIM_STATUSES),
        reason=_choices(params, "reason", CLAIM_REASONS),
        respond_by_before=_time(params, "respond_by_before"),
        transaction=None if transaction is None else -1 if row is None else row,
        currency=_codes(params, "currency", CURRENCY, v.CURRENCIES),
    )
    order = _single(params, "order") or CLAIM_ORDERS[0]
    if order not in CLAIM_ORDERS:
        raise Problem.invalid("order", f"'order' must be one of {', '.join(CLAIM_ORDERS)}.")
    limit = _integer(params, "limit", 1, LIST_PAGING.max_limit) or LIST_PAGING.default_limit
    include_total = _boolean(params, "include_total")
    cursor = _single(params, "cursor")
    after = None if cursor is None else cursors.read(cursor, filters, order, 1)[0]
    return ClaimListQuery(filters, order, limit, after, include_total)
