"""Money, numbers, percentages and times for people, in their locale and time zone.

`format_money` and friends are plain functions of the locale and time zone: they work, and are
tested, without a request. They give babel's text, but babel's `format_currency`,
`format_decimal`, `format_datetime` and `format_date` parse the locale, look up its pattern and
symbols and (for numbers) quantize a `Decimal` for every value, and a table calls them for every
cell. The formatters below them do the look-ups once per locale (and currency or format), keep
them for the life of the process, and then only fill in the digits. They give exactly babel's
text (`tests/unit/test_formats.py` compares them over many values); a pattern with parts they do
not reproduce (another grouping, quotes, significant digits) is left to babel.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache, partial
from typing import Final, Literal, cast, get_args
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import (
    DateTimePattern,
    format_date,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
from babel.numbers import (
    NumberPattern,
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

NamedFormat = Literal["full", "long", "medium", "short"]
NAMED_FORMATS: Final = get_args(NamedFormat)


def format_money(amount_minor: int, currency: str, locale: str | Locale) -> str:
    """Format an amount in minor units, e.g. 123456 EUR in de → '1.234,56 €'."""
    return money_format(_tag(locale), currency)(amount_minor)


def format_number(
    value: int | float | Decimal, locale: str | Locale, digits: int | None = None
) -> str:
    """Format a number with the locale's separators; `digits` fixes the fraction digits."""
    if digits is None:
        if type(value) is int:
            return integer_format(_tag(locale))(value)
        return format_decimal(value, locale=locale)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale, decimal_quantization=True)


def format_percent(value: float | Decimal, locale: str | Locale, digits: int | None = 1) -> str:
    """Format a ratio as a percentage with the locale's pattern, e.g. 0.1234 in de → '12,3 %'.
    Shares and rates side by side keep one digit; `digits=None` writes a rate as precise as it
    is given, up to two digits (a tax rate: '19 %', '8,1 %')."""
    loc, pattern = percent_pattern(_tag(locale), digits)
    return str(pattern.apply(value, loc))


def to_timezone(value: datetime | str, tz: str | ZoneInfo) -> datetime:
    """Convert an aware datetime or an RFC 3339 string to `tz`; naive values are taken as UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)


def format_moment(
    value: datetime | str, locale: str | Locale, tz: str | ZoneInfo, fmt: str = "medium"
) -> str:
    """Format a point in time in the user's time zone, e.g. '31.01.2025, 14:05:00'."""
    return moment_format(_tag(locale), fmt)(to_timezone(value, tz))


def format_day(
    value: date | datetime | str, locale: str | Locale, tz: str | ZoneInfo, fmt: str = "medium"
) -> str:
    """Format a calendar date; a point in time is first moved to the user's time zone."""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = to_timezone(value, tz).date()
    return day_text(_tag(locale), fmt, value)


def _tag(locale: str | Locale) -> str:
    return locale if isinstance(locale, str) else str(locale)


# -- the prepared formatters ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FixedPoint:
    """Text for whole numbers of a smallest unit (cents, or ones) with `digits` decimals, as
    babel writes them with a plain pattern: grouping by three, sign in the prefix or suffix."""

    digits: int
    group: str
    decimal: str
    prefix: tuple[str, str]  # positive, negative
    suffix: tuple[str, str]

    def __call__(self, units: int) -> str:
        negative = units < 0
        whole, fraction = divmod(-units if negative else units, 10**self.digits)
        text = f"{whole:,}".replace(",", self.group)
        if self.digits:
            text = f"{text}{self.decimal}{fraction:0{self.digits}d}"
        return f"{self.prefix[negative]}{text}{self.suffix[negative]}"


def _fixed_point(
    pattern: NumberPattern, locale: Locale, digits: int, symbols: Callable[[str], str]
) -> FixedPoint | None:
    """The fast formatter for `pattern`, or None when it has parts `FixedPoint` does not
    reproduce. `symbols` replaces the pattern's currency signs."""
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    prefix = tuple(_spaced_affix(symbols(part), before_number=True) for part in pattern.prefix)
    suffix = tuple(_spaced_affix(symbols(part), before_number=False) for part in pattern.suffix)
    plain = (
        pattern.grouping == (3, 3)
        and pattern.int_prec[0] == 1
        and pattern.scale == 0
        and not pattern.exp_prec
        and "@" not in pattern.pattern
        and pattern.number_pattern != ""
    )
    # babel strips quotes from the whole text; without any, there is nothing to strip
    if not plain or "'" in "".join((group, decimal, *prefix, *suffix)):
        return None
    return FixedPoint(digits, group, decimal, (prefix[0], prefix[1]), (suffix[0], suffix[1]))


_LETTER_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)")
_DIGIT_THEN_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])")


def currency_spaced(text: str) -> str:
    """`text` (an amount as Babel's `format_currency` writes it) with CLDR's currency spacing,
    which Babel leaves out and browsers apply: a no-break space between a currency written in
    letters and the digits ("CHF 43,917.40", like "CHF 52,743" that `Intl` draws on the axes),
    none beside a sign ("€43,917.40")."""
    return _DIGIT_THEN_LETTER.sub("\u00a0", _LETTER_THEN_DIGIT.sub("\u00a0", text))


def _spaced_affix(part: str, *, before_number: bool) -> str:
    """A pattern's prefix (`before_number`) or suffix with CLDR's currency spacing."""
    if not part:
        return part
    edge = part[-1] if before_number else part[0]
    if edge.isspace() or unicodedata.category(edge).startswith("S") or not edge.isalpha():
        return part
    return part + "\u00a0" if before_number else "\u00a0" + part


def _babel_money(units: int, *, currency: str, locale: Locale, digits: int) -> str:
    return currency_spaced(format_currency(Decimal(units).scaleb(-digits), currency, locale=locale))


@lru_cache(maxsize=64)
def money_format(locale: str, currency: str) -> Callable[[int], str]:
    """Minor units of `currency` as `format_currency` writes them in `locale` (123456 EUR in
    "de" → '1.234,56 €')."""
    loc = Locale.parse(locale)
    digits = int(get_currency_precision(currency))
    symbol = get_currency_symbol(currency, loc)
    pattern = loc.currency_formats["standard"]

    def symbols(part: str) -> str:
        return part.replace("¤¤", currency.upper()).replace("¤", symbol)

    if "¤¤¤" in "".join(pattern.prefix + pattern.suffix):  # the currency's name, by plural
        return partial(_babel_money, currency=currency, locale=loc, digits=digits)
    found = _fixed_point(pattern, loc, digits, symbols)
    return found or partial(_babel_money, currency=currency, locale=loc, digits=digits)


def _babel_integer(value: int, *, locale: Locale) -> str:
    return format_decimal(value, locale=locale)


@lru_cache(maxsize=16)
def integer_format(locale: str) -> Callable[[int], str]:
    """A whole number as `format_decimal` writes it in `locale` (1234567 in "de" →
    '1.234.567')."""
    loc = Locale.parse(locale)
    found = _fixed_point(loc.decimal_formats[None], loc, 0, lambda part: part)
    return found or partial(_babel_integer, locale=loc)


@lru_cache(maxsize=32)
def percent_pattern(locale: str, digits: int | None) -> tuple[Locale, NumberPattern]:
    """The locale and its percent pattern with `digits` fraction digits (None: 0 to 2)."""
    loc = Locale.parse(locale)
    pattern = copy.copy(loc.percent_formats[None])
    pattern.frac_prec = (0, 2) if digits is None else (digits, digits)
    return loc, pattern


@dataclass(frozen=True, slots=True)
class MomentFormat:
    """A point in time as `format_datetime` writes it in a locale, in the time's own zone."""

    tag: str
    locale: Locale
    frame: str | None  # "{1}, {0}": where the date and the time go, for a named format
    time: DateTimePattern  # for a format that is a pattern of its own: that pattern
    fmt: str

    def __call__(self, moment: datetime) -> str:
        if self.frame is None:
            return str(self.time.apply(moment, self.locale))
        clock = self.time.apply(moment.timetz(), self.locale, reference_date=moment.date())
        day = day_text(self.tag, self.fmt, moment.date())
        return self.frame.replace("{0}", clock).replace("{1}", day)


@lru_cache(maxsize=32)
def moment_format(locale: str, fmt: str) -> MomentFormat:
    """`format_datetime(moment, fmt, tzinfo=moment.tzinfo, locale=locale)` with the patterns
    looked up once; `fmt` is a named format ("short", "medium", …) or a pattern."""
    loc = Locale.parse(locale)
    if fmt not in NAMED_FORMATS:
        return MomentFormat(locale, loc, None, parse_pattern(fmt), fmt)
    named = cast(NamedFormat, fmt)
    frame = str(get_datetime_format(named, locale=loc)).replace("'", "")
    return MomentFormat(locale, loc, frame, get_time_format(named, locale=loc), fmt)


@lru_cache(maxsize=4096)
def day_text(locale: str, fmt: str, day: date) -> str:
    """`format_date(day, fmt, locale)`, kept per day: the rows of a table share few days."""
    return str(format_date(day, format=fmt, locale=locale))
