"""The exact, mergeable partial aggregate of a statistics job, kept per currency.

Every array has the currencies on its first axis, so no sum ever crosses currencies. Money is
int64 minor units. The size depends on the number of currencies, shops, countries and local days
seen, never on the number of transactions, and pages are folded in without being kept.

Merging adds arrays after aligning their axes by name (currencies, countries, shops) and by day,
so it is associative and commutative, and `Aggregate()` is its identity.

Layout (C currencies, K keys of a dimension, D local days, S statuses, M measures):
- `tables[dimension]`: (C, K, M) sums of `MEASURES` per key of each `DIMENSIONS` entry;
- `daily`: (C, D, S, M) sums of `MEASURES` per local day of `created_at` (from `first_day`)
  and status;
- `days_to_pay`: (C, DAYS_TO_PAY_MAX + 1) counts of whole days from capture to payment, the last
  bin holding that many days and more;
- `payment_delay`: (C, PAYMENT_DELAY_MAX - PAYMENT_DELAY_MIN + 1) counts of days from the due
  date to the UTC day of payment, clipped at both ends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sarportal.stats import columns as col
from sarportal.stats.calendar import DAY, check_time_zone, local_days

Int64Array = npt.NDArray[np.int64]

MEASURES = ("count", "amount", "captured", "refunded", "cancelled")
# Amount bins in minor units on a 1-2-5 log scale: bin i holds edges[i] <= amount < edges[i + 1];
# the last bin is open.
AMOUNT_EDGES = (
    *(0, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000),
    *(500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000),
)
DAYS_TO_PAY_MAX = 120
PAYMENT_DELAY_MIN, PAYMENT_DELAY_MAX = -30, 120
NAMED = ("country", "shop")
DIMENSIONS: dict[str, tuple[str, ...] | None] = {
    "status": col.STATUSES,
    "settlement_status": col.SETTLEMENTS,
    "payment_method": col.PAYMENT_METHODS,
    "customer_type": col.CUSTOMER_TYPES,
    "dunning_level": col.DUNNING_LEVELS,
    "amount_bin": tuple(str(edge) for edge in AMOUNT_EDGES),
    "country": None,  # names kept in `Aggregate.names`
    "shop": None,
    "with_capture": ("no", "yes"),  # captured_amount > 0
    "with_refund": ("no", "yes"),  # refunded_amount > 0
}
_M = len(MEASURES)
_S = len(col.STATUSES)
_EXACT_LIMIT = 2**53
_AMOUNT_EDGES = np.array(AMOUNT_EDGES, dtype=np.int64)


class _Sums:
    """Σ of integer amounts per group, exactly, after the count of each group. Float64 bincount
    is used only where every sum is exact in it; no temporary is larger than one row array."""

    def __init__(self, amounts: list[Int64Array]) -> None:
        self.amounts = amounts
        n = amounts[0].shape[0]
        self.in_floats = not n or max(int(a.max()) for a in amounts) * n < _EXACT_LIMIT
        self.weights = [a.astype(np.float64) for a in amounts] if self.in_floats else []

    def by(self, groups: Int64Array, size: int) -> Int64Array:
        """The sums per group (`groups[i]` is row i's group, below `size`), as (size, m)."""
        m = len(self.amounts) + 1
        if not self.in_floats:
            exact = np.zeros((size, m), dtype=np.int64)
            np.add.at(exact[:, 0], groups, 1)
            for j, amounts in enumerate(self.amounts, start=1):
                np.add.at(exact[:, j], groups, amounts)
            return exact
        sums = np.empty((size, m), dtype=np.int64)
        sums[:, 0] = np.bincount(groups, minlength=size)
        for j, weights in enumerate(self.weights, start=1):
            sums[:, j] = np.bincount(groups, weights=weights, minlength=size)
        return sums


def _pad(array: Int64Array, axis: int, before: int, after: int) -> Int64Array:
    widths = [(0, 0)] * array.ndim
    widths[axis] = (before, after)
    return np.pad(array, widths)


class Aggregate:
    """Counts and sums of transactions, per currency; see the module docstring for the layout."""

    def __init__(self, time_zone: str = "UTC") -> None:
        self.time_zone = check_time_zone(time_zone)
        self.currencies: list[str] = []
        self.names: dict[str, list[str]] = {dimension: [] for dimension in NAMED}
        self.tables: dict[str, Int64Array] = {
            name: np.zeros((0, 0 if keys is None else len(keys), _M), dtype=np.int64)
            for name, keys in DIMENSIONS.items()
        }
        self.first_day = 0
        self.daily = np.zeros((0, 0, _S, _M), dtype=np.int64)
        self.days_to_pay = np.zeros((0, DAYS_TO_PAY_MAX + 1), dtype=np.int64)
        self.payment_delay = np.zeros(
            (0, PAYMENT_DELAY_MAX - PAYMENT_DELAY_MIN + 1), dtype=np.int64
        )

    @property
    def count(self) -> int:
        """The number of transactions folded in."""
        return int(self.tables["status"][:, :, 0].sum())

    def currency(self, name: str) -> int | None:
        """The index of a currency on the first axis, or None if it never occurred."""
        return self.currencies.index(name) if name in self.currencies else None

    # -- growing the axes -------------------------------------------------------------------

    def _add_currencies(self, count: int) -> None:
        for name in self.tables:
            self.tables[name] = _pad(self.tables[name], 0, 0, count)
        self.daily = _pad(self.daily, 0, 0, count)
        self.days_to_pay = _pad(self.days_to_pay, 0, 0, count)
        self.payment_delay = _pad(self.payment_delay, 0, 0, count)

    def _positions(self, dimension: str, names: list[str]) -> Int64Array:
        """The indices of `names` on a named axis (currencies or a NAMED dimension), adding new
        ones."""
        known = self.currencies if dimension == "currency" else self.names[dimension]
        new = [name for name in dict.fromkeys(names) if name not in known]
        if new:
            known.extend(new)
            if dimension == "currency":
                self._add_currencies(len(new))
            else:
                self.tables[dimension] = _pad(self.tables[dimension], 1, 0, len(new))
        index = {name: position for position, name in enumerate(known)}
        return np.array([index[name] for name in names], dtype=np.int64)

    def _cover_days(self, first: int, last: int) -> None:
        if self.daily.shape[1] == 0:
            self.first_day = first
            self.daily = np.zeros((self.daily.shape[0], last - first + 1, _S, _M), np.int64)
            return
        before = max(0, self.first_day - first)
        after = max(0, last - (self.first_day + self.daily.shape[1] - 1))
        if before or after:
            self.daily = _pad(self.daily, 1, before, after)
            self.first_day -= before

    def _local(self, codes: npt.NDArray[np.int32], vocabulary: col.Vocabulary, axis: str) -> Any:
        present = np.flatnonzero(np.bincount(codes))
        lookup = np.zeros(int(present[-1]) + 1, dtype=np.int64)
        lookup[present] = self._positions(axis, [vocabulary.name(int(c)) for c in present])
        return lookup[codes]

    # -- folding and merging ----------------------------------------------------------------

    def fold(self, page: col.Columns) -> None:
        """Add one page of transactions (the page itself is not kept)."""
        if len(page) == 0:
            return
        vocabularies = page.vocabularies
        currency = self._local(page.currency, vocabularies.currencies, "currency")
        keys: dict[str, Any] = {
            "status": page.status,
            "settlement_status": page.settlement_status,
            "payment_method": page.payment_method,
            "customer_type": page.customer_type,
            "dunning_level": page.dunning_level,
            "amount_bin": np.searchsorted(_AMOUNT_EDGES, page.amount, side="right") - 1,
            "country": self._local(page.country, vocabularies.countries, "country"),
            "shop": self._local(page.shop, vocabularies.shops, "shop"),
        }
        keys["with_capture"] = page.captured_amount > 0
        keys["with_refund"] = page.refunded_amount > 0
        c = len(self.currencies)
        days = local_days(page.created_at, self.time_zone)
        first, last = int(days.min()), int(days.max())
        self._cover_days(first, last)
        span = last - first + 1

        exact = _Sums(
            [page.amount, page.captured_amount, page.refunded_amount, page.cancelled_amount]
        )
        for name, table in self.tables.items():
            k = table.shape[1]
            table += exact.by(currency * k + keys[name], c * k).reshape(table.shape)
        start = first - self.first_day
        daily = exact.by((currency * span + (days - first)) * _S + page.status, c * span * _S)
        self.daily[:, start : start + span] += daily.reshape(c, span, _S, _M)

        paid = page.paid_at >= 0
        self._count(self.days_to_pay, currency, paid & (page.captured_at >= 0),
                    (page.paid_at - page.captured_at) // DAY, 0)  # fmt: skip
        self._count(self.payment_delay, currency, paid & (page.due_date >= 0),
                    (page.paid_at - page.due_date) // DAY, PAYMENT_DELAY_MIN)  # fmt: skip

    @staticmethod
    def _count(
        histogram: Int64Array, currency: Int64Array, mask: Any, days: Int64Array, low: int
    ) -> None:
        bins = histogram.shape[1]
        cells = currency[mask] * bins + np.clip(days[mask] - low, 0, bins - 1)
        histogram += np.bincount(cells, minlength=histogram.size).reshape(histogram.shape)

    def update(self, other: Aggregate) -> None:
        """Add another aggregate into this one."""
        if other.time_zone != self.time_zone:
            raise ValueError(f"cannot merge {other.time_zone} buckets into {self.time_zone}")
        if not other.currencies:
            return
        at = self._positions("currency", other.currencies)
        for name, table in other.tables.items():
            if name in NAMED:
                keys = self._positions(name, other.names[name])
                self.tables[name][np.ix_(at, keys)] += table
            else:
                self.tables[name][at] += table
        self.days_to_pay[at] += other.days_to_pay
        self.payment_delay[at] += other.payment_delay
        if other.daily.shape[1]:
            self._cover_days(other.first_day, other.first_day + other.daily.shape[1] - 1)
            start = other.first_day - self.first_day
            self.daily[at, start : start + other.daily.shape[1]] += other.daily

    def copy(self) -> Aggregate:
        """An independent copy."""
        twin = Aggregate(self.time_zone)
        twin.currencies = list(self.currencies)
        twin.names = {name: list(names) for name, names in self.names.items()}
        twin.tables = {name: table.copy() for name, table in self.tables.items()}
        twin.first_day = self.first_day
        twin.daily = self.daily.copy()
        twin.days_to_pay = self.days_to_pay.copy()
        twin.payment_delay = self.payment_delay.copy()
        return twin

    # -- plain values -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A canonical JSON-ready form: names sorted, days trimmed to those with transactions.
        Two aggregates of the same transactions give equal dicts, whatever the merge order."""
        by_currency = np.argsort(np.array(self.currencies, dtype=str), kind="stable")
        tables = {}
        for name, table in self.tables.items():
            table = table[by_currency]
            if name in NAMED:
                table = table[:, np.argsort(self.names[name], kind="stable")]
            tables[name] = table.tolist()
        daily = self.daily[by_currency]
        active = np.flatnonzero(daily[..., 0].sum(axis=(0, 2)))
        first = int(active[0]) if active.shape[0] else 0
        last = int(active[-1]) + 1 if active.shape[0] else 0
        return {
            "time_zone": self.time_zone,
            "currencies": sorted(self.currencies),
            "names": {name: sorted(self.names[name]) for name in NAMED},
            "tables": tables,
            "first_day": self.first_day + first if last else 0,
            "daily": daily[:, first:last].tolist(),
            "days_to_pay": self.days_to_pay[by_currency].tolist(),
            "payment_delay": self.payment_delay[by_currency].tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Aggregate:
        """The aggregate that `to_dict` described."""
        aggregate = cls(data["time_zone"])
        aggregate.currencies = list(data["currencies"])
        aggregate.names = {name: list(data["names"][name]) for name in NAMED}
        c = len(aggregate.currencies)
        for name, empty in aggregate.tables.items():
            k = len(aggregate.names[name]) if name in NAMED else empty.shape[1]
            aggregate.tables[name] = np.array(data["tables"][name], np.int64).reshape(c, k, _M)
        aggregate.first_day = int(data["first_day"])
        days = len(data["daily"][0]) if c else 0
        aggregate.daily = np.array(data["daily"], np.int64).reshape(c, days, _S, _M)
        for name in ("days_to_pay", "payment_delay"):
            bins = getattr(aggregate, name).shape[1]
            setattr(aggregate, name, np.array(data[name], np.int64).reshape(c, bins))
        return aggregate


def merge(*aggregates: Aggregate, time_zone: str | None = None) -> Aggregate:
    """A new aggregate holding all of `aggregates` (none: an empty one in `time_zone` or UTC)."""
    zone = time_zone or (aggregates[0].time_zone if aggregates else "UTC")
    merged = Aggregate(zone)
    for aggregate in aggregates:
        merged.update(aggregate)
    return merged
