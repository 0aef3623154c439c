"""RFC 3339 times and ISO dates to epoch seconds, vectorised for the provider's fixed spelling.

The provider writes `2026-11-28T23:40:17Z` and `2026-12-12`. A column of those is joined into one
byte string and read as a matrix of digits; one matrix product gives the fields. Any other
spelling the RFC allows (fractions, offsets) takes a slow path through `datetime.fromisoformat`.
Null values are passed as the `NULL_TIME` / `NULL_DATE` placeholders and come back as -1.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]

NULL_TIME = "1900-01-01T00:00:00Z"
NULL_DATE = "1900-01-01"
_NULL_INSTANT = -2_208_988_800

# Days since 1970-01-01 of the first of each month from 1900 on, indexed by year * 12 + month - 1
# relative to January 1900; times outside these years take the slow path.
_FIRST_YEAR, _LAST_YEAR = 1900, 2199
_MONTH_STARTS = (
    np.arange(f"{_FIRST_YEAR}-01", f"{_LAST_YEAR + 1}-01", dtype="datetime64[M]")
    .astype("datetime64[D]")
    .astype(np.int64)
)


def _template(shape: str) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], Float64Array]:
    """For a fixed-width spelling whose digits are given as their highest value: the lowest byte
    per column, the span above it, and the place-value weights that turn the digits into
    (year * 12 + month, month, day[, second of the day])."""
    low = np.frombuffer(re.sub("[0-9]", "0", shape).encode("ascii"), np.uint8)
    span = np.array([int(c) if c.isdigit() else 0 for c in shape], np.uint8)
    weights = np.zeros((len(shape), 4 if len(shape) > 10 else 3))
    weights[0:4, 0] = (12_000, 1_200, 120, 12)
    weights[5:7, 0] = weights[5:7, 1] = (10, 1)
    weights[8:10, 2] = (10, 1)
    if len(shape) > 10:
        weights[[11, 12, 14, 15, 17, 18], 3] = (36_000, 3_600, 600, 60, 10, 1)
    return low, span, weights


_TIME_SHAPE = "9999-19-39T29:59:59Z"
_DATE_SHAPE = "9999-19-39"
_TIME = _template(_TIME_SHAPE)
_DATE = _template(_DATE_SHAPE)


def _epoch_seconds(values: list[str], shape: str) -> Int64Array | None:
    """Epoch seconds of values that all have the fixed-width `shape` (a date: its UTC
    midnight), or None when one of them does not."""
    low, span, weights = _TIME if shape == _TIME_SHAPE else _DATE
    text = "".join(values)
    if len(text) != len(shape) * len(values) or not text.isascii():
        return None
    digits = np.frombuffer(text.encode("ascii"), np.uint8).reshape(-1, len(shape)) - low
    if not (digits <= span).all():
        return None
    # Exact: every field is an integer far below 2**53.
    fields = (digits @ weights).astype(np.int64).T
    months = fields[0] - (_FIRST_YEAR * 12 + 1)
    if not (
        (
            (months >= 0) & (months < _MONTH_STARTS.shape[0]) & (fields[1] >= 1) & (fields[1] <= 12)
        ).all()
        and ((fields[2] >= 1) & (fields[2] <= 31)).all()
        and (len(fields) == 3 or (fields[3] < 86_400).all())
    ):
        return None
    seconds: Int64Array = (_MONTH_STARTS[months] + fields[2] - 1) * 86_400
    if len(fields) == 4:
        seconds += fields[3]
    return seconds


def parse_times(values: list[str]) -> Int64Array:
    """Epoch seconds of RFC 3339 times; the `NULL_TIME` placeholder becomes -1."""
    seconds = _epoch_seconds(values, _TIME_SHAPE)
    if seconds is None:
        return _times_one_by_one(values)
    result: Int64Array = np.where(seconds == _NULL_INSTANT, -1, seconds)
    return result


def parse_dates(values: list[str]) -> Int64Array:
    """Epoch seconds of the UTC midnight of ISO dates; the `NULL_DATE` placeholder becomes -1."""
    seconds = _epoch_seconds(values, _DATE_SHAPE)
    if seconds is None:
        return _dates_one_by_one(values)
    result: Int64Array = np.where(seconds == _NULL_INSTANT, -1, seconds)
    return result


def _times_one_by_one(values: list[str]) -> Int64Array:
    """The slow path for times in another RFC 3339 spelling (fractions, offsets)."""
    seconds = []
    for value in values:
        if value == NULL_TIME:
            seconds.append(-1)
            continue
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"not an RFC 3339 time: {value!r}") from exc
        if moment.tzinfo is None:
            raise ValueError(f"a time without a time zone: {value!r}")
        seconds.append(math.floor(moment.timestamp()))
    return np.array(seconds, dtype=np.int64)


def _dates_one_by_one(values: list[str]) -> Int64Array:
    epoch = date(1970, 1, 1)
    try:
        seconds = [
            -1 if v == NULL_DATE else (date.fromisoformat(v) - epoch).days * 86_400 for v in values
        ]
    except ValueError as exc:
        raise ValueError(f"not an ISO date: {exc}") from exc
    return np.array(seconds, dtype=np.int64)
