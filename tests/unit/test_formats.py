"""The prepared formatters give exactly babel's text, for any value, in every portal locale."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

from sarportal.web.ui.formats import (
    FixedPoint,
    currency_spaced,
    day_text,
    integer_format,
    moment_format,
    money_format,
)
from sarportal.web.ui.locale import LOCALES

CURRENCIES = ("EUR", "CHF", "USD", "JPY", "KWD", "GBP")
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC")
FORMATS = ("short", "medium", "long", "full", "yyyy-MM-dd HH:mm", "EEEE, d. MMMM y 'um' H:mm")
amounts = st.one_of(
    st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from([0, -1, 1, 999, 1000])
)
moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)


@given(
    amount=amounts, currency=st.sampled_from(CURRENCIES), locale=st.sampled_from((*LOCALES, "fr"))
)
def test_money_is_babels_format_currency_with_cldr_currency_spacing(
    amount: int, currency: str, locale: str
) -> None:
    value = Decimal(amount).scaleb(-get_currency_precision(currency))
    babel = format_currency(value, currency, locale=locale)
    assert money_format(locale, currency)(amount) == currency_spaced(babel)


def test_a_currency_in_letters_is_spaced_from_its_digits_a_sign_is_not() -> None:
    assert money_format("en", "CHF")(4391740) == "CHF\u00a043,917.40"
    assert money_format("en", "CHF")(-500) == "-CHF\u00a05.00"
    assert money_format("en", "EUR")(4391740) == "€43,917.40"
    assert money_format("de", "CHF")(4391740) == "43.917,40\u00a0CHF"
    assert money_format("en", "USD")(100) == "$1.00"


@given(value=amounts, locale=st.sampled_from((*LOCALES, "fr", "de_CH")))
def test_whole_numbers_are_babels_format_decimal(value: int, locale: str) -> None:
    assert integer_format(locale)(value) == format_decimal(value, locale=locale)


@given(
    moment=moments,
    zone=st.sampled_from(ZONES),
    locale=st.sampled_from(LOCALES),
    fmt=st.sampled_from(FORMATS),
)
def test_moments_are_babels_format_datetime(
    moment: datetime, zone: str, locale: str, fmt: str
) -> None:
    local = moment.astimezone(ZoneInfo(zone))
    expected = format_datetime(local, format=fmt, tzinfo=local.tzinfo, locale=locale)
    assert moment_format(locale, fmt)(local) == expected


@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
    locale=st.sampled_from(LOCALES),
    fmt=st.sampled_from(FORMATS[:4]),
)
def test_days_are_babels_format_date(day: date, locale: str, fmt: str) -> None:
    assert day_text(locale, fmt, day) == format_date(day, format=fmt, locale=locale)


@pytest.mark.parametrize(("locale", "expected"), [("de", "1.234,56\xa0€"), ("en", "€1,234.56")])
def test_money_is_prepared_once_per_locale_and_currency(locale: str, expected: str) -> None:
    assert money_format(locale, "EUR") is money_format(locale, "EUR")
    assert isinstance(money_format(locale, "EUR"), FixedPoint)  # not babel's slow path
    assert money_format(locale, "EUR")(123456) == expected
