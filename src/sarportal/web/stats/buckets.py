"""Time buckets of the statistics pages: which currencies a job has, the granularity for a
period (day, week or month), a bucket's range and its label in the user's language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any, Final, Literal, cast

from babel.dates import format_interval, format_skeleton

from sarportal.web.ui.formats import (
    to_timezone,
)

Link = Callable[..., str]
Words = Mapping[str, Any]
Granularity = Literal["day", "week", "month"]

GRANULARITIES: Final = ("auto", "day", "week", "month")

AUTO_DAYS: Final = 45
"""Up to this many days a period is drawn by day, up to `AUTO_WEEKS` weeks by week, else by
month."""
AUTO_WEEKS: Final = 26


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
