"""Local days, ISO weeks and months in the user's time zone, across DST changes and year ends."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarportal.stats.calendar import day_key, local_day, local_days, month_key, week_key


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def _day_number(text: str) -> int:
    return (date.fromisoformat(text) - date(1970, 1, 1)).days


@pytest.mark.parametrize(
    ("instant", "zone", "local"),
    [
        ("2026-03-29T00:30:00Z", "Europe/Berlin", "2026-03-29"),  # 01:30 CET, before the change
        ("2026-03-29T01:00:00Z", "Europe/Berlin", "2026-03-29"),  # 03:00 CEST
        ("2026-03-28T22:59:59Z", "Europe/Berlin", "2026-03-28"),  # 23:59:59 CET
        ("2026-03-28T23:00:00Z", "Europe/Berlin", "2026-03-29"),
        ("2026-10-24T22:30:00Z", "Europe/Berlin", "2026-10-25"),  # 00:30 CEST
        ("2026-10-24T21:59:59Z", "Europe/Berlin", "2026-10-24"),
        ("2026-10-25T22:59:59Z", "Europe/Berlin", "2026-10-25"),  # 23:59:59 CET, after
        ("2026-10-25T23:00:00Z", "Europe/Berlin", "2026-10-26"),
        ("2026-12-31T23:30:00Z", "Europe/Berlin", "2027-01-01"),
        ("2026-12-31T23:30:00Z", "UTC", "2026-12-31"),
        ("2026-01-01T04:59:59Z", "America/New_York", "2025-12-31"),
        ("2026-01-01T05:00:00Z", "America/New_York", "2026-01-01"),
        ("2026-06-30T18:29:59Z", "Asia/Kolkata", "2026-06-30"),  # +05:30
        ("2026-06-30T18:30:00Z", "Asia/Kolkata", "2026-07-01"),
    ],
)
def test_local_day(instant: str, zone: str, local: str) -> None:
    assert day_key(local_day(_epoch(instant), zone)) == local


@pytest.mark.parametrize(
    ("day", "week", "month"),
    [
        ("2026-11-28", "2026-W48", "2026-11"),
        ("2026-12-31", "2026-W53", "2026-12"),  # 2026 has 53 ISO weeks
        ("2027-01-03", "2026-W53", "2027-01"),  # a Sunday: still the old ISO year
        ("2027-01-04", "2027-W01", "2027-01"),
        ("2024-12-30", "2025-W01", "2024-12"),  # a Monday: already the new ISO year
        ("2025-12-29", "2026-W01", "2025-12"),
        ("2021-01-01", "2020-W53", "2021-01"),
    ],
)
def test_iso_week_and_month_keys(day: str, week: str, month: str) -> None:
    number = _day_number(day)
    assert (day_key(number), week_key(number), month_key(number)) == (day, week, month)


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(_epoch("2019-01-01T00:00:00Z"), _epoch("2031-01-01T00:00:00Z")),
             min_size=1, max_size=50),
    st.sampled_from(ZONES),
)  # fmt: skip
def test_local_days_equal_zoneinfo_instant_by_instant(instants: list[int], zone: str) -> None:
    expected = [
        (datetime.fromtimestamp(t, ZoneInfo(zone)).date() - date(1970, 1, 1)).days for t in instants
    ]
    assert local_days(np.array(instants, dtype=np.int64), zone).tolist() == expected


def test_every_second_around_a_change_is_on_the_right_day() -> None:
    # Lord Howe moves by 30 minutes at 02:00 local: the offset changes inside an hour.
    zone = "Australia/Lord_Howe"
    start = _epoch("2026-04-04T14:00:00Z")
    instants = np.arange(start, start + 4 * 3600, 7, dtype=np.int64)
    expected = [
        (datetime.fromtimestamp(int(t), ZoneInfo(zone)).date() - date(1970, 1, 1)).days
        for t in instants
    ]
    assert local_days(instants, zone).tolist() == expected
