"""One provider list page (`GET /v1/transactions`, raw JSON) decoded straight into numpy columns.

msgspec decodes and validates the summary fields we aggregate (the enums as `Literal`, so each
value is one shared string object); the columns are then built with one list comprehension per
field and vectorised parsing of the fixed-width RFC 3339 times. Identifying fields (`id`,
`order_reference`, `customer_id`) are not even decoded.

Category columns are small-int codes: fixed vocabularies for the contract's enums, and for
currencies, countries and shops a per-job `Vocabularies` that starts with the known names and
interns unknown ones as they appear (never dropping a row). A row's eight category values are
looked up at once, as one tuple in a per-job table of the combinations seen so far (a few
hundred in practice), whose codes index a matrix of the eight columns' codes.

A page of the CSV export (`GET /v1/exports/transactions`) is decoded by `stats.export_pages`,
loaded (with Arrow) only when the first one arrives.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Annotated, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from sarportal.domain import vocabulary
from sarportal.stats.timestamps import NULL_DATE, NULL_TIME, parse_dates, parse_times

Int64Array = npt.NDArray[np.int64]
CodeArray = npt.NDArray[np.int8]
NameCodeArray = npt.NDArray[np.int32]

STATUSES = vocabulary.STATUSES
# Code 0: no settlement (nothing captured, or fully refunded): `null` in the page.
SETTLEMENTS = ("none", *vocabulary.SETTLEMENT_STATUSES)
PAYMENT_METHODS = vocabulary.PAYMENT_METHODS
CUSTOMER_TYPES = vocabulary.CUSTOMER_TYPES
DUNNING_LEVELS = tuple(str(level) for level in vocabulary.DUNNING_LEVELS)
KNOWN_CURRENCIES = ("EUR", "CHF", "GBP", "USD", "PLN", "CZK", "HUF", "SEK", "DKK", "NOK")
KNOWN_COUNTRIES = ("DE", "AT", "CH", "NL", "BE", "LU", "FR", "IT", "ES", "PL", "CZ", "DK", "SE")


class PageDecodeError(ValueError):
    """A page is not a valid transaction list (truncated, or against the contract)."""


class _Summary(msgspec.Struct, gc=False):
    created_at: str
    status: vocabulary.Status
    settlement_status: vocabulary.SettlementStatus | None
    payment_method: vocabulary.PaymentMethod
    currency: str
    amount: Annotated[int, msgspec.Meta(ge=0)]
    captured_amount: Annotated[int, msgspec.Meta(ge=0)]
    refunded_amount: Annotated[int, msgspec.Meta(ge=0)]
    cancelled_amount: Annotated[int, msgspec.Meta(ge=0)]
    shop: str
    country: str
    customer_type: vocabulary.CustomerType
    captured_at: str | None
    due_date: str | None
    paid_at: str | None
    dunning_level: Annotated[int, msgspec.Meta(ge=0, le=4)]


class _Page(msgspec.Struct, gc=False):
    data: list[_Summary]
    has_more: bool
    next_cursor: str | None
    total_count: int | None = None


_PAGE_DECODER = msgspec.json.Decoder(_Page)


class ExportPage(Protocol):
    """A page of the CSV export: its body and the list state its headers carried."""

    @property
    def body(self) -> bytes: ...
    @property
    def has_more(self) -> bool: ...
    @property
    def next_cursor(self) -> str | None: ...
    @property
    def row_count(self) -> int: ...
    @property
    def total_count(self) -> int | None: ...


RawPage = bytes | ExportPage


class Vocabulary:
    """Names ↔ small-int codes: fixed names first, unknown ones interned as they appear."""

    def __init__(self, fixed: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._names: list[str] = []
        self._codes: dict[str, int] = {}
        for name in fixed:
            self.intern(name)

    def intern(self, name: str) -> int:
        """The code of `name`, adding it if it is new."""
        with self._lock:
            code = self._codes.get(name)
            if code is None:
                code = len(self._names)
                self._names.append(name)  # before the code is visible, so `name()` can find it
                self._codes[name] = code
            return code

    def name(self, code: int) -> str:
        return self._names[code]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._names)


Category = tuple[str, str | None, str, str, int, str, str, str]


class _Combinations(dict[Category, int]):
    """The category combinations of one job: (status, settlement, method, customer type,
    dunning level, currency, country, shop) → a code, new ones added as they appear; `parts`
    turns codes into the eight columns' codes."""

    def __init__(self, vocabularies: Vocabularies) -> None:
        super().__init__()
        self._vocabularies = vocabularies
        self._lock = threading.Lock()
        self._rows: list[tuple[int, ...]] = []
        self._matrix = np.zeros((8, 0), np.int32)

    def __missing__(self, key: Category) -> int:
        status, settlement, method, customer_type, level, currency, country, shop = key
        vocab = self._vocabularies
        row = (
            STATUSES.index(status), SETTLEMENTS.index(settlement or "none"),
            PAYMENT_METHODS.index(method), CUSTOMER_TYPES.index(customer_type), level,
            vocab.currencies.intern(currency), vocab.countries.intern(country),
            vocab.shops.intern(shop),
        )  # fmt: skip
        with self._lock:
            code = self.get(key)
            if code is None:
                code = len(self._rows)
                self._rows.append(row)  # before the code is visible, so `parts` can find it
                self[key] = code
            return code

    def parts(self, codes: NameCodeArray) -> NameCodeArray:
        """The eight columns' codes (one row each) of the combinations `codes`."""
        matrix = self._matrix
        if codes.shape[0] and int(codes.max()) >= matrix.shape[1]:
            with self._lock:
                matrix = self._matrix = np.array(self._rows, np.int32).reshape(-1, 8).T.copy()
        parts: NameCodeArray = matrix[:, codes]
        return parts


@dataclass(frozen=True)
class Vocabularies:
    """The per-job vocabularies of the open-ended category columns."""

    currencies: Vocabulary = field(default_factory=lambda: Vocabulary(KNOWN_CURRENCIES))
    countries: Vocabulary = field(default_factory=lambda: Vocabulary(KNOWN_COUNTRIES))
    shops: Vocabulary = field(default_factory=Vocabulary)


@dataclass(frozen=True, eq=False)
class Columns:
    """One page as columns. Times are epoch seconds (`due_date`: its UTC midnight), -1 for null."""

    created_at: Int64Array
    captured_at: Int64Array
    due_date: Int64Array
    paid_at: Int64Array
    amount: Int64Array
    captured_amount: Int64Array
    refunded_amount: Int64Array
    cancelled_amount: Int64Array
    status: CodeArray  # index into STATUSES
    settlement_status: CodeArray  # index into SETTLEMENTS (0: none)
    payment_method: CodeArray  # index into PAYMENT_METHODS
    customer_type: CodeArray  # index into CUSTOMER_TYPES
    dunning_level: CodeArray  # the level itself, 0–4
    currency: NameCodeArray  # codes of vocabularies.currencies
    country: NameCodeArray  # codes of vocabularies.countries
    shop: NameCodeArray  # codes of vocabularies.shops
    vocabularies: Vocabularies
    has_more: bool
    next_cursor: str | None
    total_count: int | None
    pages: int = 1  # how many list pages these rows came from (see `concat`)

    def __len__(self) -> int:
        return int(self.amount.shape[0])


_ROW_COLUMNS = tuple(
    f.name for f in fields(Columns) if f.type in ("Int64Array", "CodeArray", "NameCodeArray")
)


def concat(pages: Sequence[Columns]) -> Columns:
    """Consecutive pages of one shard (sharing one set of vocabularies) as one batch: the rows of
    all, the cursor state of the last, the first total seen."""
    if len(pages) == 1:
        return pages[0]
    last = pages[-1]
    return Columns(
        **{name: np.concatenate([getattr(page, name) for page in pages]) for name in _ROW_COLUMNS},
        vocabularies=last.vocabularies,
        has_more=last.has_more,
        next_cursor=last.next_cursor,
        total_count=next((p.total_count for p in pages if p.total_count is not None), None),
        pages=sum(page.pages for page in pages),
    )


class PageDecoder:
    """Decodes list pages into `Columns`, all sharing one set of vocabularies (one per job)."""

    def __init__(self, vocabularies: Vocabularies | None = None) -> None:
        self.vocabularies = vocabularies or Vocabularies()
        self._combinations = _Combinations(self.vocabularies)
        vocab = self.vocabularies
        self._category_codes: dict[str, Callable[[str], int]] = {
            "status": _fixed_code(STATUSES, "status"),
            "settlement_status": _fixed_code(SETTLEMENTS[1:], "settlement_status", first=1),
            "payment_method": _fixed_code(PAYMENT_METHODS, "payment_method"),
            "customer_type": _fixed_code(CUSTOMER_TYPES, "customer_type"),
            "currency": vocab.currencies.intern,
            "country": vocab.countries.intern,
            "shop": vocab.shops.intern,
        }

    def decode(
        self, raw: RawPage, turn: contextlib.AbstractContextManager[object] | None = None
    ) -> Columns:
        """The columns of one page: a raw `GET /v1/transactions` body, or an export page. The
        work that holds the GIL is done inside `turn` (see `engine.CPU_TURN`)."""
        turn = turn or contextlib.nullcontext()
        if isinstance(raw, bytes):
            with turn:
                return self.decode_json(raw)
        return self.decode_csv(raw, turn)

    def decode_csv(
        self, page: ExportPage, turn: contextlib.AbstractContextManager[object] | None = None
    ) -> Columns:
        """The columns of one page of the CSV export (see `stats.export_pages`)."""
        export_pages = importlib.import_module("sarportal.stats.export_pages")  # loads Arrow
        columns: Columns = export_pages.decode(page, self, turn or contextlib.nullcontext())
        return columns

    def category_code(self, name: str) -> Callable[[str], int]:
        """name → code for the category column `name` (fixed ones refuse unknown names)."""
        return self._category_codes[name]

    def decode_json(self, raw: bytes) -> Columns:
        """The columns of one raw `GET /v1/transactions` response body."""
        try:
            page = _PAGE_DECODER.decode(raw)
        except msgspec.DecodeError as exc:
            raise PageDecodeError(f"not a valid transaction list page: {exc}") from exc
        rows = page.data
        n = len(rows)
        vocab = self.vocabularies
        try:
            times = parse_times(
                [r.created_at for r in rows]
                + [r.captured_at or NULL_TIME for r in rows]
                + [r.paid_at or NULL_TIME for r in rows]
            )
            due_dates = parse_dates([r.due_date or NULL_DATE for r in rows])
        except ValueError as exc:
            raise PageDecodeError(str(exc)) from exc
        categories = self._combinations.parts(
            np.fromiter(
                map(
                    self._combinations.__getitem__,
                    [
                        (r.status, r.settlement_status, r.payment_method, r.customer_type,
                         r.dunning_level, r.currency, r.country, r.shop)
                        for r in rows
                    ],
                ),
                np.int32,
                n,
            )
        )  # fmt: skip
        return Columns(
            created_at=times[:n],
            captured_at=times[n : 2 * n],
            due_date=due_dates,
            paid_at=times[2 * n :],
            amount=np.fromiter([r.amount for r in rows], np.int64, n),
            captured_amount=np.fromiter([r.captured_amount for r in rows], np.int64, n),
            refunded_amount=np.fromiter([r.refunded_amount for r in rows], np.int64, n),
            cancelled_amount=np.fromiter([r.cancelled_amount for r in rows], np.int64, n),
            status=categories[0].astype(np.int8),
            settlement_status=categories[1].astype(np.int8),
            payment_method=categories[2].astype(np.int8),
            customer_type=categories[3].astype(np.int8),
            dunning_level=categories[4].astype(np.int8),
            currency=categories[5],
            country=categories[6],
            shop=categories[7],
            vocabularies=vocab,
            has_more=page.has_more,
            next_cursor=page.next_cursor,
            total_count=page.total_count,
        )


def _fixed_code(names: Sequence[str], what: str, *, first: int = 0) -> Callable[[str], int]:
    """The code of a name of a fixed vocabulary (codes from `first`); any other name is against
    the contract."""
    codes = {name: code for code, name in enumerate(names, first)}

    def code(name: str) -> int:
        found = codes.get(name)
        if found is None:
            raise PageDecodeError(f"the export page has an unknown {what} {name!r}")
        return found

    return code
