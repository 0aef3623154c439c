"""Amounts typed in a locale become exact minor units, or a clear refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from sarportal.domain.money import AmountError, minor_digits, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("1.234,56", "EUR", "de", 123456),
        ("1234,56", "EUR", "de", 123456),
        ("1 234,56", "EUR", "de", 123456),
        ("12", "EUR", "de", 1200),
        ("0,5", "EUR", "de", 50),
        ("1,234.56", "EUR", "en", 123456),
        ("1234.5", "EUR", "en", 123450),
        ("12,50 €", "EUR", "de", 1250),
        ("CHF 12.50", "CHF", "de_CH", 1250),
        ("1500", "JPY", "en", 1500),
    ],
)
def test_well_formed_amounts(text: str, currency: str, locale: str, minor: int) -> None:
    assert parse_amount(text, currency, locale) == minor


@pytest.mark.parametrize(
    ("text", "locale", "reason"),
    [
        ("", "de", "empty"),
        ("   ", "de", "empty"),
        ("-5", "de", "negative"),
        ("0", "de", "not_positive"),
        ("0,00", "de", "not_positive"),
        ("0,001", "de", "precision"),
        ("12,345", "de", "precision"),
        ("12.34", "de", "format"),
        ("1.2.3", "de", "format"),
        ("1e5", "de", "format"),
        ("zwölf", "de", "format"),
        ("12,5.0", "de", "format"),
        ("1,5", "en", "format"),
        ("99999999999999", "en", "too_large"),
    ],
)
def test_refusals_say_why(text: str, locale: str, reason: str) -> None:
    with pytest.raises(AmountError) as refused:
        parse_amount(text, "EUR", locale)
    assert refused.value.reason == reason


@given(
    minor=st.integers(1, 10**11),
    locale=st.sampled_from(["de", "en", "de_CH", "de_AT", "fr"]),
    currency=st.sampled_from(["EUR", "CHF", "JPY"]),
)
def test_formatted_amounts_parse_back_exactly(minor: int, locale: str, currency: str) -> None:
    digits = minor_digits(currency)
    value = Decimal(minor).scaleb(-digits)
    text = format_decimal(value, locale=locale, decimal_quantization=False)
    assert parse_amount(text, currency, locale) == minor


@given(text=st.text(max_size=20))
def test_any_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        minor = parse_amount(text, "EUR", "de")
    except AmountError as error:
        assert error.reason in {
            "empty",
            "negative",
            "not_positive",
            "precision",
            "format",
            "too_large",
        }
    else:
        assert 0 < minor <= 10**12
