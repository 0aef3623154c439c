"""A statistics job's figures shaped for the counter page: counters and the table by period.

Pure code, like `web.stats.charts`: the JSON of `stats.figures`, the locale and translated words in;
plain values out. Every cell carries its exact number (count, or amount in minor units) beside
its formatted text, so the page, the CSV export and the tests read the same figures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sarportal.domain.vocabulary import STATUSES
from sarportal.web.stats.buckets import (
    Granularity,
    Link,
    Words,
    bucket_label,
    clipped_range,
    period_days,
)
from sarportal.web.stats.charts import SETTLEMENTS
from sarportal.web.ui.formats import format_money, format_number

COUNTER_STATUSES = STATUSES
"""The statuses in the order of a transaction's life, as the filters list them."""


@dataclass(frozen=True)
class Counter:
    """One counter: a status or settlement state with its count and amount."""

    key: str
    name: str
    count: int
    amount: int
    count_text: str
    amount_text: str
    href: str


@dataclass(frozen=True)
class PeriodRow:
    """One row of the table by period: count and amount per status, and the row's total."""

    key: str
    label: str
    first: date
    last: date
    counts: tuple[int, ...]
    amounts: tuple[int, ...]

    @property
    def count(self) -> int:
        return sum(self.counts)

    @property
    def amount(self) -> int:
        return sum(self.amounts)


@dataclass(frozen=True)
class PeriodTable:
    """The table by period for one currency, with its totals row."""

    currency: str
    granularity: Granularity
    statuses: tuple[str, ...]
    rows: tuple[PeriodRow, ...]

    @property
    def shown(self) -> tuple[int, ...]:
        """The positions of the statuses with transactions (the page leaves the others out)."""
        return tuple(i for i, count in enumerate(self.totals.counts) if count)

    @property
    def totals(self) -> PeriodRow:
        width = len(self.statuses)
        first = self.rows[0].first if self.rows else date.min
        last = self.rows[-1].last if self.rows else date.min
        return PeriodRow(
            "total",
            "",
            first,
            last,
            tuple(sum(r.counts[i] for r in self.rows) for i in range(width)),
            tuple(sum(r.amounts[i] for r in self.rows) for i in range(width)),
        )


def counters(
    figures: Mapping[str, Any], currency: str, locale: str, words: Words, link: Link
) -> dict[str, list[Counter]]:
    """Counts and amounts per status (authorized amount) and per settlement state (captured
    minus refunded), for one currency; a counter links to those transactions."""
    status = figures["breakdowns"]["status"].get(currency, {})
    settlement = figures["breakdowns"]["settlement_status"].get(currency, {})

    def counter(key: str, row: Mapping[str, int], name: str, amount: int, href: str) -> Counter:
        return Counter(
            key,
            name,
            row.get("count", 0),
            amount,
            format_number(row.get("count", 0), locale),
            format_money(amount, currency, locale),
            href,
        )

    by_currency = {"currencies": (currency,)}
    return {
        "status": [
            counter(
                key,
                status.get(key, {}),
                words["status"][key],
                status.get(key, {}).get("amount", 0),
                link(statuses=(key,), **by_currency),
            )
            for key in COUNTER_STATUSES
        ],
        "settlement": [
            counter(
                key,
                settlement.get(key, {}),
                words["settlement_status"][key],
                settlement.get(key, {}).get("net", 0),
                link(settlement_statuses=(key,), **by_currency),
            )
            for key in SETTLEMENTS
        ],
    }


def period_table(
    figures: Mapping[str, Any], currency: str, granularity: Granularity, locale: str
) -> PeriodTable:
    """Count and amount per status for each day, ISO week or month of the period."""
    series = figures["series"][granularity]
    keys: list[str] = series["buckets"]
    data = series["by_currency"].get(currency) or {"count": {}, "amount": {}}
    zero = [0] * len(keys)
    period = period_days(figures)
    rows = []
    for i, key in enumerate(keys):
        first, last = clipped_range(key, granularity, period)
        rows.append(
            PeriodRow(
                key,
                bucket_label(key, granularity, locale, long=True, period=period),
                first,
                last,
                tuple(data["count"].get(s, zero)[i] for s in COUNTER_STATUSES),
                tuple(data["amount"].get(s, zero)[i] for s in COUNTER_STATUSES),
            )
        )
    return PeriodTable(currency, granularity, COUNTER_STATUSES, tuple(rows))


def csv_header(words: Words) -> list[str]:
    """The columns of the CSV export of the table by period."""
    header = [words["period"], words["from"], words["to"], words["currency"]]
    for status in COUNTER_STATUSES:
        name = words["status"][status]
        header += [words["count_of"] % {"name": name}, words["amount_of"] % {"name": name}]
    return [*header, words["total_count"], words["total_amount"]]


def csv_rows(tables: list[PeriodTable], amount: Any, total_label: str) -> Iterator[list[str]]:
    """The rows of the CSV export: every table's rows, then its totals row.

    `amount(minor, currency)` formats an amount as the user's spreadsheet reads it."""
    for table in tables:
        for row in (*table.rows, table.totals):
            label = total_label if row.key == "total" else row.key
            cells = [label, row.first.isoformat(), row.last.isoformat(), table.currency]
            for count, minor in zip(row.counts, row.amounts, strict=True):
                cells += [str(count), amount(minor, table.currency)]
            yield [*cells, str(row.count), amount(row.amount, table.currency)]


__all__ = [
    "COUNTER_STATUSES",
    "Counter",
    "PeriodRow",
    "PeriodTable",
    "counters",
    "csv_header",
    "csv_rows",
    "period_table",
]
