"""Local days in the user's time zone, vectorised, and the names of day, ISO week and month buckets.

A time zone's UTC offset changes only at a few instants a year. They are found once per zone and
year (a scan every three hours, then bisection to the second) and cached, so turning a column of
epoch seconds into local days is one `searchsorted` over a handful of transitions.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]

DAY = 86_400
_SCAN_STEP = 3 * 3600
_EPOCH_DATE = date(1970, 1, 1)


def _offset(zone: ZoneInfo, instant: int) -> int:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


@functools.lru_cache(maxsize=512)
def _year_transitions(time_zone: str, year: int) -> tuple[int, tuple[tuple[int, int], ...]]:
    """The offset at the start of `year` (UTC), and (instant, new offset) for every change in it."""
    zone = ZoneInfo(time_zone)
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    stop = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    first = _offset(zone, start)
    changes: list[tuple[int, int]] = []
    before, current = start, first
    for instant in range(start + _SCAN_STEP, stop + _SCAN_STEP, _SCAN_STEP):
        instant = min(instant, stop)
        offset = _offset(zone, instant)
        if offset != current:
            low, high = before, instant  # the offset at `low` is `current`, at `high` it is not
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == current:
                    low = middle
                else:
                    high = middle
            changes.append((high, offset))
            current = offset
        before = instant
    return first, tuple(changes)


@functools.lru_cache(maxsize=256)
def _offset_table(time_zone: str, first_year: int, last_year: int) -> tuple[Int64Array, Int64Array]:
    """Transition instants and the offsets around them: offsets[i] holds from transitions[i - 1]
    (inclusive) to transitions[i] (exclusive)."""
    initial, _ = _year_transitions(time_zone, first_year)
    instants: list[int] = []
    offsets = [initial]
    for year in range(first_year, last_year + 1):
        for instant, offset in _year_transitions(time_zone, year)[1]:
            instants.append(instant)
            offsets.append(offset)
    return np.array(instants, dtype=np.int64), np.array(offsets, dtype=np.int64)


def _year(instant: int) -> int:
    return (_EPOCH_DATE + timedelta(days=instant // DAY)).year


def local_days(instants: Int64Array, time_zone: str) -> Int64Array:
    """The local calendar day (days since 1970-01-01) of each epoch second in `time_zone`."""
    if instants.shape[0] == 0:
        return instants.copy()
    if time_zone == "UTC":
        utc_days: Int64Array = instants // DAY
        return utc_days
    transitions, offsets = _offset_table(
        time_zone, _year(int(instants.min())), _year(int(instants.max()))
    )
    local = instants + offsets[np.searchsorted(transitions, instants, side="right")]
    days: Int64Array = local // DAY
    return days


def local_day(instant: int, time_zone: str) -> int:
    """The local calendar day (days since 1970-01-01) of one epoch second."""
    return int(local_days(np.array([instant], dtype=np.int64), time_zone)[0])


def check_time_zone(time_zone: str) -> str:
    """The name itself if it is an IANA time zone; ValueError otherwise."""
    try:
        ZoneInfo(time_zone)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {time_zone!r}") from exc
    return time_zone


def day_date(day: int) -> date:
    return _EPOCH_DATE + timedelta(days=day)


def day_key(day: int) -> str:
    """`2026-11-28`."""
    return day_date(day).isoformat()


def week_key(day: int) -> str:
    """The ISO week of a local day: `2026-W48` (the ISO year, which may differ at year ends)."""
    iso = day_date(day).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def month_key(day: int) -> str:
    """`2026-11`."""
    return day_date(day).isoformat()[:7]
