"""The figures of domain.md, computed from an aggregate (and the previous period's), as plain JSON.

Money stays integer minor units per currency; rates are floats rounded to 4 places (None when the
denominator is zero); DSO is in days, rounded to 1 place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from sarportal.domain.moments import rfc3339
from sarportal.stats import aggregate as agg
from sarportal.stats import calendar as cal
from sarportal.stats.columns import SETTLEMENTS, STATUSES

Int64Array = npt.NDArray[np.int64]
Figure = int | float | None

BREAKDOWNS = (
    "status",
    "settlement_status",
    "payment_method",
    "country",
    "customer_type",
    "shop",
    "dunning_level",
)
DSO_DAYS = 90
_COUNT, _AMOUNT, _CAPTURED, _REFUNDED, _CANCELLED = range(len(agg.MEASURES))
_DECLINED = STATUSES.index("declined")
_OPEN, _OVERDUE, _WRITTEN_OFF = (SETTLEMENTS.index(s) for s in ("open", "overdue", "written_off"))
_GRANULARITIES: dict[str, Callable[[int], str]] = {
    "day": cal.day_key,
    "week": cal.week_key,
    "month": cal.month_key,
}


def _ratio(numerator: int, denominator: int, places: int = 4) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, places)


def _table(aggregate: agg.Aggregate, dimension: str, currency: str) -> Int64Array:
    """(K, M) sums of one currency, zeros if it never occurred."""
    table = aggregate.tables[dimension]
    index = aggregate.currency(currency)
    return np.zeros(table.shape[1:], np.int64) if index is None else table[index]


def _days(aggregate: agg.Aggregate, currency: str, first: int, last: int) -> Int64Array:
    """(last - first + 1, S, M) daily sums of one currency over [first, last], zeros outside."""
    window = np.zeros((max(0, last - first + 1), len(STATUSES), len(agg.MEASURES)), np.int64)
    index = aggregate.currency(currency)
    held = aggregate.daily.shape[1]
    low, high = max(first, aggregate.first_day), min(last, aggregate.first_day + held - 1)
    if index is not None and low <= high:
        source = aggregate.daily[index, low - aggregate.first_day : high - aggregate.first_day + 1]
        window[low - first : high - first + 1] = source
    return window


def _data_days(*aggregates: agg.Aggregate) -> tuple[int, int] | None:
    """The first and last local day with transactions in any of the aggregates."""
    days = []
    for aggregate in aggregates:
        active = np.flatnonzero(aggregate.daily[..., _COUNT].sum(axis=(0, 2)))
        if active.shape[0]:
            days += [aggregate.first_day + int(active[0]), aggregate.first_day + int(active[-1])]
    return (min(days), max(days)) if days else None


def _dso(
    aggregates: list[agg.Aggregate], currency: str, receivables: int, end: datetime,
    covered_from: datetime | None,
) -> float | None:  # fmt: skip
    """Open receivables / (captured volume of the last 90 local days up to `end` / 90); when
    fewer days were fetched, over the days that were."""
    zone = aggregates[0].time_zone
    last = cal.local_day(int(end.timestamp()) - 1, zone)
    first = last - DSO_DAYS + 1
    if covered_from is not None:
        first = max(first, cal.local_day(int(covered_from.timestamp()), zone))
    else:
        seen = _data_days(*aggregates)
        first = max(first, seen[0]) if seen else last + 1
    captured = sum(int(_days(a, currency, first, last)[..., _CAPTURED].sum()) for a in aggregates)
    return _ratio(receivables * (last - first + 1), captured, 1)


def _key_figures(
    aggregate: agg.Aggregate, currency: str, dso: Callable[[int], float | None]
) -> dict[str, Figure]:
    status = _table(aggregate, "status", currency)
    settlement = _table(aggregate, "settlement_status", currency)
    count = int(status[:, _COUNT].sum())
    approved = int(count - status[_DECLINED, _COUNT])
    volume = int(status[:, _AMOUNT].sum() - status[_DECLINED, _AMOUNT])
    captured, refunded, cancelled = (int(status[:, m].sum()) for m in (2, 3, 4))
    net = settlement[:, _CAPTURED] - settlement[:, _REFUNDED]
    receivables = int(net[_OPEN] + net[_OVERDUE])
    with_capture = int(_table(aggregate, "with_capture", currency)[1, _COUNT])
    with_refund = int(_table(aggregate, "with_refund", currency)[1, _COUNT])
    return {
        "count": count,
        "volume": volume,
        "captured_volume": captured,
        "net_volume": captured - refunded,
        "average_order_value": None if approved == 0 else (2 * volume + approved) // (2 * approved),
        "approval_rate": _ratio(approved, count),
        "capture_rate": _ratio(captured, volume),
        "cancellation_rate": _ratio(cancelled, volume),
        "refund_rate": _ratio(refunded, captured),
        "refund_rate_by_count": _ratio(with_refund, with_capture),
        "open_receivables": receivables,
        "overdue_count": int(settlement[_OVERDUE, _COUNT]),
        "overdue_amount": int(net[_OVERDUE]),
        "write_off_rate": _ratio(int(net[_WRITTEN_OFF]), captured),
        "dso": dso(receivables),
    }


def _compare(value: Figure, previous: Figure, compared: bool) -> dict[str, Figure]:
    both = value is not None and previous is not None
    delta = round(value - previous, 4) if both else None  # type: ignore[operator]
    return {
        "value": value,
        "previous": previous if compared else None,
        "delta": delta if compared else None,
        "delta_ratio": (
            round((value - previous) / previous, 4)  # type: ignore[operator]
            if compared and both and previous != 0
            else None
        ),
    }


def _histogram(counts: Int64Array, low: int) -> dict[str, Any]:
    total = int(counts.sum())
    median = None
    if total:
        cumulative = np.cumsum(counts)
        middle = np.searchsorted(cumulative, [(total - 1) // 2, total // 2], side="right")
        median = (int(middle[0]) + int(middle[1])) / 2 + low
    return {"counts": counts.tolist(), "count": total, "median": median}


def _series(aggregate: agg.Aggregate, currencies: list[str], first: int, last: int) -> Any:
    days = list(range(first, last + 1))
    result = {}
    for granularity, key in _GRANULARITIES.items():
        keys = [key(day) for day in days]
        starts = [i for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]]
        by_currency = {}
        for currency in currencies:
            window = _days(aggregate, currency, first, last)
            sums = np.add.reduceat(window, starts, axis=0) if starts else window
            by_currency[currency] = {
                measure: {status: sums[:, s, m].tolist() for s, status in enumerate(STATUSES)}
                for measure, m in (("count", _COUNT), ("amount", _AMOUNT))
            }
        result[granularity] = {"buckets": [keys[i] for i in starts], "by_currency": by_currency}
    return result


def _breakdown(aggregate: agg.Aggregate, dimension: str, currency: str) -> dict[str, Any]:
    """Sums per key: every key of a fixed vocabulary in its order; shops and countries by name,
    those with transactions in this currency only."""
    table = _table(aggregate, dimension, currency)
    fixed = agg.DIMENSIONS[dimension]
    if fixed is None:
        names = aggregate.names[dimension]
        keys = sorted((n, k) for k, n in enumerate(names) if table[k, _COUNT])
    else:
        keys = [(n, k) for k, n in enumerate(fixed)]
    return {
        name: dict(zip(agg.MEASURES, map(int, table[k]), strict=True))
        | {"net": int(table[k, _CAPTURED] - table[k, _REFUNDED])}
        for name, k in keys
    }


def figures(
    aggregate: agg.Aggregate,
    previous_aggregate: agg.Aggregate | None = None,
    *,
    period_end: datetime,
    period_start: datetime | None = None,
) -> dict[str, Any]:
    """Every figure of domain.md for the period [period_start, period_end) (RFC 3339 instants;
    the start is optional) and, given the previous period's aggregate, its values and changes."""
    current = aggregate
    previous = previous_aggregate or agg.Aggregate(current.time_zone)
    zone = current.time_zone
    currencies = sorted(set(current.currencies) | set(previous.currencies))
    previous_start = None if period_start is None else period_start - (period_end - period_start)
    covered = previous_start if previous_aggregate is not None else period_start

    def key_figures(currency: str) -> dict[str, dict[str, Figure]]:
        now = _key_figures(current, currency, lambda r: _dso(
            [current, previous], currency, r, period_end, covered))  # fmt: skip
        before = _key_figures(previous, currency, lambda r: _dso(
            [previous], currency, r, period_start or period_end, previous_start))  # fmt: skip
        compared = previous_aggregate is not None
        return {name: _compare(now[name], before[name], compared) for name in now}

    last = cal.local_day(int(period_end.timestamp()) - 1, zone)
    seen = _data_days(current)
    first = cal.local_day(int(period_start.timestamp()), zone) if period_start else None
    if first is None:
        first = seen[0] if seen else last + 1
    status_counts = current.tables["status"][:, :, _COUNT].sum(axis=0).tolist()
    return {
        "period": {
            "start": None if period_start is None else rfc3339(period_start),
            "end": rfc3339(period_end),
            "time_zone": zone,
        },
        "totals": {
            "count": current.count,
            "amount_by_currency": {
                c: int(_table(current, "status", c)[:, _AMOUNT].sum()) for c in currencies
            },
        },
        "by_status": {s: int(n) for s, n in zip(STATUSES, status_counts, strict=True)},
        "key_figures": {currency: key_figures(currency) for currency in currencies},
        "series": _series(current, currencies, first, last),
        "breakdowns": {
            dimension: {c: _breakdown(current, dimension, c) for c in currencies}
            for dimension in BREAKDOWNS
        },
        "amount_distribution": {
            "edges": list(agg.AMOUNT_EDGES),
            "by_currency": {
                c: {
                    "count": _table(current, "amount_bin", c)[:, _COUNT].tolist(),
                    "amount": _table(current, "amount_bin", c)[:, _AMOUNT].tolist(),
                }
                for c in currencies
            },
        },
        "days_to_pay": _histograms(current, currencies, "days_to_pay", 0),
        "payment_delay": _histograms(current, currencies, "payment_delay", agg.PAYMENT_DELAY_MIN),
        "dunning_funnel": {
            "levels": [int(level) for level in agg.DIMENSIONS["dunning_level"] or ()],
            "by_currency": {c: _funnel(_table(current, "dunning_level", c)) for c in currencies},
        },
    }


def _funnel(table: Int64Array) -> dict[str, list[int]]:
    counts = table[:, _COUNT]
    return {"count": counts.tolist(), "reached": np.cumsum(counts[::-1])[::-1].tolist()}


def _histograms(aggregate: agg.Aggregate, currencies: list[str], name: str, low: int) -> Any:
    histograms: Int64Array = getattr(aggregate, name)
    bins = histograms.shape[1]
    empty = np.zeros(bins, np.int64)
    return {
        "bins": list(range(low, low + bins)),
        "clipped": "both ends" if low < 0 else "last bin holds that many days and more",
        "by_currency": {
            c: _histogram(
                empty if aggregate.currency(c) is None else histograms[aggregate.currency(c)], low
            )
            for c in currencies
        },
    }
