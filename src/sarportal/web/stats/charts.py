"""A statistics job's figures shaped for the dashboard: key figure cards, chart data and tables.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, cast

from babel import Locale
from babel.dates import format_interval, format_skeleton
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
from sarportal.web.ui.formats import (
    currency_spaced,
    format_money,
    format_number,
    format_percent,
    to_timezone,
)

Cell = str | dict[str, str]
Link = Callable[..., str]
Words = Mapping[str, Any]
Granularity = Literal["day", "week", "month"]

GRANULARITIES: Final = ("auto", "day", "week", "month")
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
AUTO_DAYS: Final = 45
"""Up to this many days a period is drawn by day, up to `AUTO_WEEKS` weeks by week, else by
month."""
AUTO_WEEKS: Final = 26
DAYS_TO_PAY_MIN_AXIS: Final = 28
DUE_DAYS: Final = 14
"""An invoice is due 14 days after the capture (domain.md); the days-to-pay chart marks it."""
TAIL_SHARE: Final = 0.98


@dataclass(frozen=True)
class FigureSpec:
    """One key figure card: which figure, how to format it, and which direction is good."""

    key: str
    kind: Literal["money", "count", "rate", "days"]
    better: int  # +1: up is good, -1: down is good, 0: neither
    # False for balances judged by today's settlement status: the previous period's invoices
    # have had longer to be paid, so a change against them would mislead (+676 % and the like).
    comparable: bool = True


KEY_FIGURES: Final = (
    FigureSpec("volume", "money", +1),
    FigureSpec("count", "count", +1),
    FigureSpec("average_order_value", "money", 0),
    FigureSpec("approval_rate", "rate", +1),
    FigureSpec("refund_rate", "rate", -1),
    FigureSpec("open_receivables", "money", 0, comparable=False),
    FigureSpec("overdue_amount", "money", -1, comparable=False),
    FigureSpec("dso", "days", -1, comparable=False),
)


# -- currencies, granularity and time buckets ---------------------------------------------------


def currencies(figures: Mapping[str, Any] | None) -> list[str]:
    """The currencies of the figures, the one with the most transactions first."""
    if not figures:
        return []
    found: Mapping[str, Any] = figures.get("key_figures", {})
    return sorted(found, key=lambda c: (-(found[c]["count"]["value"] or 0), c))


def pick_currency(figures: Mapping[str, Any] | None, wanted: str | None) -> str | None:
    """`wanted` when the figures hold it, else the busiest currency, else None."""
    found = currencies(figures)
    if wanted in found:
        return wanted
    return found[0] if found else None


def pick_granularity(choice: str | None, days: int) -> Granularity:
    """The chosen time bucket, or for "auto" the one that gives a readable number of bars."""
    if choice in ("day", "week", "month"):
        return cast(Granularity, choice)
    if days <= AUTO_DAYS:
        return "day"
    return "week" if days <= AUTO_WEEKS * 7 else "month"


def bucket_range(key: str, granularity: str) -> tuple[date, date]:
    """The first and last day of a time bucket ('2025-03-01', '2025-W09', '2025-03')."""
    if granularity == "day":
        day = date.fromisoformat(key)
        return day, day
    if granularity == "week":
        year, week = key.split("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
        return monday, monday + timedelta(days=6)
    first = date.fromisoformat(f"{key}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def period_days(figures: Mapping[str, Any]) -> tuple[date, date] | None:
    """The first and last local day of the figures' period (None while it is not known)."""
    period = figures.get("period") or {}
    start, end, zone = period.get("start"), period.get("end"), period.get("time_zone", "UTC")
    if not start or not end:
        days = figures.get("series", {}).get("day", {}).get("buckets") or []
        return (date.fromisoformat(days[0]), date.fromisoformat(days[-1])) if days else None
    first = to_timezone(start.replace("Z", "+00:00"), zone).date()
    last = (to_timezone(end.replace("Z", "+00:00"), zone) - timedelta(seconds=1)).date()
    return first, max(first, last)


def bucket_label(
    key: str,
    granularity: str,
    locale: str,
    *,
    long: bool = False,
    period: tuple[date, date] | None = None,
) -> str:
    """A bucket's name on the axis ("Nov 2", "W45", "Nov 2026") or in full for tables; a week
    or month cut by the `period` is named by the days it holds."""
    first, last = bucket_range(key, granularity)
    if long and granularity != "day" and period is not None:
        cut = clipped_range(key, granularity, period)
        if cut != (first, last):
            if cut[0] == cut[1]:
                return format_skeleton("yMMMEd", cut[0], locale=locale)
            return format_interval(cut[0], cut[1], "yMMMd", locale=locale)
    if granularity == "day":
        return format_skeleton("yMMMEd" if long else "MMMd", first, locale=locale)
    if granularity == "week":
        if long:
            return format_interval(first, last, "yMMMd", locale=locale)
        week = key.split("-W")[1]
        return f"{'KW' if locale.startswith('de') else 'W'}\u202f{int(week)}"
    return format_skeleton("yMMMM" if long else "yMMM", first, locale=locale)


def clipped_range(
    key: str, granularity: str, period: tuple[date, date] | None
) -> tuple[date, date]:
    """A bucket's days within the period (the first and last week or month may be cut)."""
    first, last = bucket_range(key, granularity)
    if period is None:
        return first, last
    return max(first, period[0]), min(last, period[1])


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


def _format(kind: str, value: float | None, currency: str, locale: str) -> str:
    if value is None:
        return "–"
    if kind == "money":
        return format_money(int(value), currency, locale)
    if kind == "rate":
        return format_percent(value, locale)
    if kind == "days":
        return format_number(value, locale, 1)
    return format_number(int(value), locale)


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


# -- key figures ------------------------------------------------------------------------------


def key_figures(
    figures: Mapping[str, Any], currency: str, locale: str, words: Words, *, complete: bool
) -> list[dict[str, Any]]:
    """The cards across the top: value, the change against the previous period, its meaning."""
    source: Mapping[str, Any] = figures["key_figures"].get(currency, {})
    cards = []
    for spec in KEY_FIGURES:
        figure = source.get(spec.key) or {}
        card = {
            "key": spec.key,
            "label": words["figure"][spec.key],
            "value": _format(spec.kind, figure.get("value"), currency, locale),
            "previous": _format(spec.kind, figure.get("previous"), currency, locale)
            if complete
            else "…",
            "detail": "",
        }
        if spec.kind == "days":
            for name in ("value", "previous"):
                if figure.get(name) is not None and card[name] != "…":
                    card[name] = words["day_count"](figure[name], card[name])
            card["detail"] = words["dso_detail"]
        if spec.key == "overdue_amount":
            overdue = (source.get("overdue_count") or {}).get("value") or 0
            card["detail"] = words["invoice_count"](overdue, format_number(overdue, locale))
        cards.append(card | _change(spec, figure, locale, words, complete))
    return cards


def _change(
    spec: FigureSpec, figure: Mapping[str, Any], locale: str, words: Words, complete: bool
) -> dict[str, str]:
    """The delta's text, arrow, tone and a sentence for screen readers."""
    if not spec.comparable:
        return {"trend": "none", "tone": "neutral", "delta": "–", "previous": "–",
                "spoken": words["balance_today"]}  # fmt: skip
    if not complete:
        return {"trend": "pending", "tone": "neutral", "delta": "…", "spoken": words["pending"]}
    delta = figure.get("delta")
    if spec.kind == "rate":
        change = None if delta is None else delta * 100
        text = None if change is None else format_number(abs(change), locale, 1)
        unit = words["points"]
    else:
        change = figure.get("delta_ratio")
        text = None if change is None else format_percent(abs(change), locale)
        unit = ""
    if change is None:
        return {"trend": "none", "tone": "neutral", "delta": "–", "spoken": words["no_compare"]}
    trend = "flat" if round(change, 3) == 0 else ("up" if change > 0 else "down")
    sign = {"up": "+", "down": "−", "flat": "±"}[trend]
    tone = "neutral"
    if trend != "flat" and spec.better:
        tone = "good" if (change > 0) == (spec.better > 0) else "bad"
    shown = f"{sign}{text}" + (f"\u00a0{unit}" if unit else "")
    spoken = words[trend] % {"change": f"{text}{' ' + unit if unit else ''}"}
    return {"trend": trend, "tone": tone, "delta": shown, "spoken": spoken}


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


__all__ = [
    "GRANULARITIES",
    "KEY_FIGURES",
    "bucket_label",
    "bucket_range",
    "currencies",
    "dashboard",
    "key_figures",
    "major",
    "money_whole",
    "period_days",
    "pick_currency",
    "pick_granularity",
]
