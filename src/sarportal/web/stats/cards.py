"""The key figure cards across the top of the dashboard: value, previous period, change, tone.

Pure code, as `charts`: the JSON of `stats.figures`, the locale and the page's words in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from sarportal.web.stats.buckets import Words
from sarportal.web.ui.formats import (
    format_money,
    format_number,
    format_percent,
)


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
