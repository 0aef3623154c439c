"""Money as integers in minor units, and amounts typed by people in their own locale.

`parse_amount("1.234,56", "EUR", "de")` is 123456. Input is strict: the locale's decimal
separator, optional grouping in the right places, no more decimals than the currency has, a
positive value. Every refusal is an `AmountError` with a message a person can act on.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import (
    NumberFormatError,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    parse_decimal,
)

MAX_MINOR_UNITS = 10**12


class AmountError(ValueError):
    """An amount that cannot be accepted; `reason` is a stable key, the message is English."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def minor_digits(currency: str) -> int:
    """How many decimals the currency has (2 for EUR and CHF, 0 for JPY)."""
    return int(get_currency_precision(currency))


def to_minor(value: Decimal, currency: str) -> int:
    """A decimal amount in minor units; refuses more decimals than the currency has."""
    digits = minor_digits(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise AmountError("precision", f"{currency} amounts have at most {digits} decimal places.")
    return int(scaled)


def parse_amount(text: str, currency: str, locale: str, *, allow_zero: bool = False) -> int:
    """A person's amount in `locale` (e.g. "1.234,56" in de) as minor units of `currency`."""
    cleaned = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    for symbol in (currency, "€", "CHF", "Fr.", "EUR"):
        cleaned = cleaned.replace(symbol, "")
    cleaned = cleaned.strip()
    if not cleaned:
        raise AmountError("empty", "Please enter an amount.")
    if cleaned.startswith("-"):
        raise AmountError("negative", "The amount must be positive.")
    decimal_symbol = get_decimal_symbol(locale)
    group_symbol = get_group_symbol(locale)
    if not _well_formed(cleaned, decimal_symbol, group_symbol):
        example = f"1{group_symbol}234{decimal_symbol}56"
        raise AmountError("format", f"Please enter the amount like {example}.")
    try:
        value = parse_decimal(cleaned.replace(" ", group_symbol), locale=locale, strict=True)
    except (NumberFormatError, InvalidOperation) as exc:
        example = f"1{group_symbol}234{decimal_symbol}56"
        raise AmountError("format", f"Please enter the amount like {example}.") from exc
    minor = to_minor(value, currency)
    if minor <= 0 and not (allow_zero and minor == 0):
        raise AmountError("not_positive", "The amount must be more than zero.")
    if minor > MAX_MINOR_UNITS:
        raise AmountError("too_large", "The amount is too large.")
    return minor


def _well_formed(text: str, decimal_symbol: str, group_symbol: str) -> bool:
    group = re.escape(group_symbol)
    groups = rf"\d+(?:(?:{group}|\s)\d{{3}})*"
    pattern = rf"{groups}(?:{re.escape(decimal_symbol)}\d+)?"
    return re.fullmatch(pattern, text) is not None
