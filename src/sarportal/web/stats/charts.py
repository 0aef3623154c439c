"""A statistics job's figures shaped for the dashboard: seven charts and their tables.

Pure code: it takes the JSON of `stats.figures` (finished or partial), the user's locale, the
translated words of the page and a link maker, and returns JSON-ready dicts. The template renders
them on the server, and `dashboard.js` draws the same dicts as ECharts charts, so the charts and
their text alternatives (the tables) always show the same figures.

- Money stays per currency: every view is for one currency, never a sum across currencies.
  Tables hold formatted text; chart series hold amounts in major units (for the axis only).
- A table cell is text, or `{"text", "href"}` when it opens the transactions table filtered to
  that segment (the same link as a click on the chart).
- `link(**changes)` gives the transactions table's URL for the page's filters with `changes`
  (field names of `TransactionFilters`); the shaping never builds a URL itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from babel import Locale
from babel.numbers import format_currency

from sarportal.domain.filters import Period
from sarportal.domain.money import minor_digits
from sarportal.domain.vocabulary import (
    DUNNING_LEVELS,
    SETTLEMENT_STATUSES,
    STATUSES,
    SettlementStatus,
    Status,
)
from sarportal.web.stats.buckets import (
    GRANULARITIES,
    Granularity,
    Link,
    Words,
    bucket_label,
    clipped_range,
    currencies,
    period_days,
    pick_currency,
    pick_granularity,
)
from sarportal.web.stats.cards import key_figures
from sarportal.web.ui.formats import (
    currency_spaced,
    format_money,
    format_number,
    format_percent,
)

Cell = str | dict[str, str]

STATUS_ORDER: Final[tuple[Status, ...]] = (
    "captured",
    "partially_captured",
    *(status for status in STATUSES if status not in ("captured", "partially_captured")),
)
"""Bottom to top in the stacked volume chart: money that arrived first, then the life-cycle order
(authorized, refunds, cancellations, declines last)."""

SETTLEMENTS: Final[tuple[SettlementStatus, ...]] = (
    "paid",
    *(state for state in SETTLEMENT_STATUSES if state != "paid"),
)
"""In the settlement chart: paid first, then the life-cycle order."""

DUNNING_STAGES: Final = DUNNING_LEVELS[1:]

DAYS_TO_PAY_MIN_AXIS: Final = 28

DUE_DAYS: Final = 14
"""An invoice is due 14 days after the capture (domain.md); the days-to-pay chart marks it."""

TAIL_SHARE: Final = 0.98


# -- formatting -------------------------------------------------------------------------------


def major(amount_minor: int, currency: str) -> float:
    """An amount in major units for a chart axis (tables use exact, formatted text)."""
    return float(amount_minor / 10 ** minor_digits(currency))


def money_whole(amount_minor: int, currency: str, locale: str) -> str:
    """An amount without decimals ("1.000 €"), for the bins of the amount distribution."""
    pattern = Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0]
    whole = pattern.replace(".00", "")
    amount = Decimal(amount_minor).scaleb(-minor_digits(currency))
    return currency_spaced(
        format_currency(amount, currency, format=whole, locale=locale, currency_digits=False)
    )


def _share(part: int, whole: int, locale: str) -> str:
    return format_percent(part / whole, locale) if whole else "–"


def _table(
    caption: str,
    columns: Sequence[tuple[str, bool]],
    rows: list[list[Cell]],
    foot: list[Cell] | None = None,
) -> dict[str, Any]:
    return {
        "caption": caption,
        "columns": [{"label": label, "numeric": numeric} for label, numeric in columns],
        "rows": rows,
        "foot": foot,
    }


# -- charts -----------------------------------------------------------------------------------


def dashboard(
    figures: Mapping[str, Any] | None,
    *,
    currency: str | None,
    granularity: str | None,
    locale: str,
    words: Words,
    link: Link,
    complete: bool,
) -> dict[str, Any]:
    """Everything the dashboard shows for one currency: cards, charts and their tables."""
    chosen = pick_currency(figures, currency)
    if figures is None or chosen is None:
        return {"currency": None, "currencies": [], "key_figures": [], "charts": {}, "empty": True}
    count = figures["key_figures"][chosen]["count"]["value"] or 0
    period = period_days(figures)
    days = 0 if period is None else (period[1] - period[0]).days + 1
    used = pick_granularity(granularity, days)
    by_currency = {"currencies": (chosen,)}
    context = _Context(figures, chosen, locale, words, lambda **c: link(**by_currency, **c))
    return {
        "currency": chosen,
        "currencies": currencies(figures),
        "empty": count == 0,
        "granularity": granularity if granularity in GRANULARITIES else "auto",
        "granularity_used": used,
        "key_figures": key_figures(figures, chosen, locale, words, complete=complete),
        "charts": {
            "volume": _volume(context, used, period),
            "status": _status(context),
            "payment_method": _breakdown(context, "payment_method", "payment_methods"),
            "country": _breakdown(context, "country", "countries"),
            "amount": _amounts(context),
            "days_to_pay": _days_to_pay(context),
            "settlement": _settlement(context),
        },
    }


@dataclass(frozen=True)
class _Context:
    figures: Mapping[str, Any]
    currency: str
    locale: str
    words: Words
    link: Link

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency, self.locale)

    def number(self, value: int) -> str:
        return format_number(value, self.locale)

    def linked(self, text: str, href: str) -> Cell:
        return {"text": text, "href": href}


def _volume(c: _Context, granularity: Granularity, period: tuple[date, date] | None) -> Any:
    series = c.figures["series"][granularity]
    keys: list[str] = series["buckets"]
    data = series["by_currency"].get(c.currency, {"count": {}, "amount": {}})
    zero = [0] * len(keys)
    ranges = [clipped_range(key, granularity, period) for key in keys]
    # Declined transactions are no volume (domain.md): the total is the Authorized volume card.
    shown = [s for s in STATUS_ORDER if s != "declined" and any(data["count"].get(s, zero))]
    names: Mapping[str, str] = c.words["status"]
    titles = [bucket_label(k, granularity, c.locale, long=True, period=period) for k in keys]
    chart = {
        "labels": [bucket_label(k, granularity, c.locale) for k in keys],
        "titles": titles,
        "ranges": [[first.isoformat(), last.isoformat()] for first, last in ranges],
        "drill": c.link(),
        "series": [
            {
                "key": status,
                "name": names[status],
                "amount": [major(v, c.currency) for v in data["amount"].get(status, zero)],
                "count": data["count"].get(status, zero),
            }
            for status in shown
        ],
    }
    totals = [sum(data["amount"].get(s, zero)[i] for s in shown) for i in range(len(keys))]
    counts = [sum(data["count"].get(s, zero)[i] for s in shown) for i in range(len(keys))]
    rows: list[list[Cell]] = []
    for i, (first, last) in enumerate(ranges):
        row: list[Cell] = [titles[i]]
        for status in shown:
            value = data["amount"].get(status, zero)[i]
            href = c.link(period=Period.CUSTOM, date_from=first, date_to=last, statuses=(status,))
            row.append(c.linked(c.money(value), href) if value else c.money(0))
        row += [c.number(counts[i]), c.money(totals[i])]
        rows.append(row)
    columns = [(c.words["period"], False), *((names[s], True) for s in shown)]
    columns += [(c.words["transactions"], True), (c.words["total"], True)]
    foot: list[Cell] = [c.words["total"]]
    foot += [c.money(sum(data["amount"].get(s, zero))) for s in shown]
    foot += [c.number(sum(counts)), c.money(sum(totals))]
    caption = c.words["captions"]["volume"] % {"currency": c.currency}
    return {"data": chart, "table": _table(caption, columns, rows, foot)}


def _status(c: _Context) -> Any:
    rows_in = c.figures["breakdowns"]["status"].get(c.currency, {})
    names: Mapping[str, str] = c.words["status"]
    total = sum(r["count"] for r in rows_in.values())
    points = [
        {
            "key": status,
            "name": names[status],
            "value": rows_in[status]["count"],
            "amount": major(rows_in[status]["amount"], c.currency),
            "href": c.link(statuses=(status,)),
        }
        for status in STATUS_ORDER
        if rows_in.get(status, {}).get("count")
    ]
    rows: list[list[Cell]] = [
        [
            c.linked(p["name"], p["href"]),
            c.number(p["value"]),
            _share(p["value"], total, c.locale),
            c.money(rows_in[p["key"]]["amount"]),
        ]
        for p in points
    ]
    amount = sum(r["amount"] for r in rows_in.values())
    foot: list[Cell] = [c.words["total"], c.number(total), _share(total, total, c.locale)]
    foot.append(c.money(amount))
    columns = [(c.words["status_column"], False), (c.words["transactions"], True)]
    columns += [(c.words["share"], True), (c.words["amount"], True)]
    caption = c.words["captions"]["status"] % {"currency": c.currency}
    return {"data": {"points": points}, "table": _table(caption, columns, rows, foot)}


_FILTER_FIELD = {"payment_method": "payment_methods", "country": "countries"}


def _breakdown(c: _Context, dimension: str, caption_key: str) -> Any:
    rows_in: Mapping[str, Any] = c.figures["breakdowns"][dimension].get(c.currency, {})
    names: Mapping[str, str] = c.words[dimension]
    points = [
        {
            "key": key,
            "name": names.get(key, key),
            "value": major(row["amount"], c.currency),
            "count": row["count"],
            "href": c.link(**{_FILTER_FIELD[dimension]: (key,)}),
        }
        for key, row in rows_in.items()
        if row["count"]
    ]
    points.sort(key=lambda p: -p["value"])
    total = sum(r["amount"] for r in rows_in.values())
    rows: list[list[Cell]] = [
        [
            c.linked(p["name"], p["href"]),
            c.number(p["count"]),
            c.money(rows_in[p["key"]]["amount"]),
            _share(rows_in[p["key"]]["amount"], total, c.locale),
        ]
        for p in points
    ]
    foot: list[Cell] = [c.words["total"], c.number(sum(r["count"] for r in rows_in.values()))]
    foot += [c.money(total), _share(total, total, c.locale)]
    columns = [(c.words[f"{dimension}_column"], False), (c.words["transactions"], True)]
    columns += [(c.words["amount"], True), (c.words["share_of_amount"], True)]
    caption = c.words["captions"][caption_key] % {"currency": c.currency}
    return {"data": {"points": points}, "table": _table(caption, columns, rows, foot)}


def _amounts(c: _Context) -> Any:
    edges: list[int] = c.figures["amount_distribution"]["edges"]
    found = c.figures["amount_distribution"]["by_currency"].get(c.currency)
    counts: list[int] = found["count"] if found else [0] * len(edges)
    amounts: list[int] = found["amount"] if found else [0] * len(edges)
    used = [i for i, n in enumerate(counts) if n]
    low, high = (used[0], used[-1]) if used else (0, -1)
    labels, points, rows = [], [], []
    for i in range(low, high + 1):
        start = money_whole(edges[i], c.currency, c.locale)
        if i + 1 < len(edges):
            end = money_whole(edges[i + 1], c.currency, c.locale)
            label = f"{start}\u2009–\u2009{end}"
            href = c.link(amount_min=edges[i], amount_max=edges[i + 1] - 1)
        else:
            label = f"≥\u00a0{start}"
            href = c.link(amount_min=edges[i], amount_max=None)
        labels.append(label)
        points.append({"value": counts[i], "amount": major(amounts[i], c.currency), "href": href})
        rows.append([c.linked(label, href), c.number(counts[i]), c.money(amounts[i])])
    foot: list[Cell] = [c.words["total"], c.number(sum(counts)), c.money(sum(amounts))]
    columns = [(c.words["order_amount"], False), (c.words["transactions"], True)]
    columns.append((c.words["amount"], True))
    caption = c.words["captions"]["amounts"] % {"currency": c.currency}
    data = {"labels": labels, "points": points}
    return {"data": data, "table": _table(caption, columns, rows, foot)}


def chart_bins(counts: Sequence[int], *, share: float = TAIL_SHARE, minimum: int = 0) -> int:
    """How many bins a histogram chart draws one by one before it gathers the long tail into a
    last bar: enough for `share` of the count, at least `minimum`, and all the used bins when
    gathering would leave just one."""
    total, seen = sum(counts), 0
    used = [i for i, n in enumerate(counts) if n]
    for i, n in enumerate(counts):
        seen += n
        if total and seen >= share * total:
            keep = max(i + 1, minimum)
            return max(keep, used[-1] + 1) if keep >= used[-1] else keep
    return min(len(counts), max(minimum, used[-1] + 1 if used else 0))


def _days_to_pay(c: _Context) -> Any:
    histogram = c.figures["days_to_pay"]
    bins: list[int] = histogram["bins"]
    found = histogram["by_currency"].get(c.currency) or {"counts": [], "count": 0, "median": None}
    counts: list[int] = found["counts"] or [0] * len(bins)
    used = [i for i, n in enumerate(counts) if n]

    def days(i: int) -> str:
        text: str = c.words["day_count"](bins[i], c.number(bins[i]))
        return f"≥\u00a0{text}" if i == len(bins) - 1 else text

    keep = chart_bins(counts, minimum=DAYS_TO_PAY_MIN_AXIS + 1)
    ticks = [str(bins[i]) for i in range(min(keep, len(bins)))]
    titles = [days(i) for i in range(min(keep, len(bins)))]
    values = counts[:keep]
    if keep < len(bins) and any(counts[keep:]):
        ticks.append(f"≥{bins[keep]}")
        titles.append("≥\u00a0" + c.words["day_count"](bins[keep], c.number(bins[keep])))
        values.append(sum(counts[keep:]))
    median = found["median"]
    rows: list[list[Cell]] = [[days(i), c.number(counts[i])] for i in used]
    foot: list[Cell] = [c.words["paid_invoices"], c.number(found["count"])]
    spoken = None if median is None else format_number(median, c.locale)
    caption = c.words["captions"]["days_to_pay"] % {
        "currency": c.currency,
        "median": "–" if median is None or spoken is None else c.words["day_count"](median, spoken),
    }
    data = {
        "labels": ticks,
        "titles": titles,
        "axis_name": c.words["days_to_pay"],
        "values": values,
        "median": median,
        "median_label": None
        if median is None or spoken is None
        else c.words["median_days"](median, spoken),
        "median_index": None if median is None else min(math.floor(median), len(ticks) - 1),
        "due_index": DUE_DAYS if len(ticks) > DUE_DAYS else None,
        "due_label": c.words["due"] % {"days": c.number(DUE_DAYS)},
    }
    columns = [(c.words["days_to_pay"], False), (c.words["invoices_column"], True)]
    return {"data": data, "table": _table(caption, columns, rows, foot)}


def _settlement(c: _Context) -> Any:
    """Settled invoices by state, then how many of them reached each dunning level."""
    settlement = c.figures["breakdowns"]["settlement_status"].get(c.currency, {})
    invoices = sum(settlement.get(s, {}).get("count", 0) for s in SETTLEMENTS)
    funnel = c.figures["dunning_funnel"]
    levels: list[int] = funnel["levels"]
    reached = (funnel["by_currency"].get(c.currency) or {}).get("reached") or [0] * len(levels)
    points, rows = [], []
    for state in SETTLEMENTS:
        row = settlement.get(state, {"count": 0, "net": 0})
        name = c.words["settlement_status"][state]
        href = c.link(settlement_statuses=(state,))
        points.append(
            {"key": state, "group": "settlement", "name": name, "value": row["count"],
             "share": row["count"] / invoices if invoices else 0, "href": href}
        )  # fmt: skip
        rows.append([c.linked(name, href), c.number(row["count"]),
                     _share(row["count"], invoices, c.locale), c.money(row["net"])])  # fmt: skip
    for level in DUNNING_STAGES:
        count = reached[levels.index(level)] if level in levels else 0
        name = c.words["dunning_reached"][str(level)]
        href = c.link(dunning_levels=tuple(x for x in levels if x >= level))
        points.append(
            {"key": f"dunning-{level}", "group": "dunning", "name": name, "value": count,
             "share": count / invoices if invoices else 0, "href": href}
        )  # fmt: skip
        rows.append([c.linked(name, href), c.number(count), _share(count, invoices, c.locale), "–"])
    net = sum(settlement.get(s, {}).get("net", 0) for s in SETTLEMENTS)
    foot: list[Cell] = [c.words["invoices_total"], c.number(invoices), "", c.money(net)]
    columns = [(c.words["stage"], False), (c.words["invoices_column"], True)]
    columns += [(c.words["share_of_invoices"], True), (c.words["invoice_net"], True)]
    caption = c.words["captions"]["settlement"] % {"currency": c.currency}
    return {"data": {"points": points}, "table": _table(caption, columns, rows, foot)}
