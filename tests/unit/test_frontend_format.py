"""Formatting for people: money, numbers, percentages and times per locale and time zone, and the
choice of language and time zone for a request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, g

import sarportal.web.ui as frontend
from sarportal.web.ui import locale
from sarportal.web.ui.formats import (
    format_day,
    format_moment,
    format_money,
    format_number,
    format_percent,
    to_timezone,
)
from sarportal.web.ui.locale import safe_next, select_locale, select_timezone

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("amount_minor", "currency", "locale", "expected"),
    [
        (123456, "EUR", "de", f"1.234,56{NBSP}€"),
        (123456, "EUR", "en", "€1,234.56"),
        (5, "EUR", "en", "€0.05"),
        (0, "EUR", "de", f"0,00{NBSP}€"),
        (-500, "EUR", "de", f"-5,00{NBSP}€"),
        (123456, "CHF", "de", f"1.234,56{NBSP}CHF"),
        (1234, "JPY", "de", f"1.234{NBSP}¥"),  # no minor unit: 1234 yen
        (1234, "JPY", "en", "¥1,234"),
        (1234, "KWD", "de", f"1,234{NBSP}KWD"),  # three minor digits: 1.234 dinar
    ],
)
def test_money_uses_the_currency_minor_unit_and_the_locale(
    amount_minor: int, currency: str, locale: str, expected: str
) -> None:
    assert format_money(amount_minor, currency, locale) == expected


@pytest.mark.parametrize(
    ("value", "locale", "digits", "expected"),
    [
        (1234567, "de", None, "1.234.567"),
        (1234567, "en", None, "1,234,567"),
        (1234.5, "de", 2, "1.234,50"),
        (1234.5, "en", 2, "1,234.50"),
        (0.125, "en", None, "0.125"),
        (42, "de", 1, "42,0"),
    ],
)
def test_number(value: float, locale: str, digits: int | None, expected: str) -> None:
    assert format_number(value, locale, digits) == expected


@pytest.mark.parametrize(
    ("ratio", "locale", "digits", "expected"),
    [
        (0.1234, "de", 1, f"12,3{NBSP}%"),
        (0.1234, "en", 1, "12.3%"),
        (0.5, "de", 0, f"50{NBSP}%"),
        (1, "en", 2, "100.00%"),
        (0.19, "de", None, f"19{NBSP}%"),  # a tax rate as precise as it is given
        (0.081, "de", None, f"8,1{NBSP}%"),
        (0.055, "en", None, "5.5%"),
    ],
)
def test_percent(ratio: float, locale: str, digits: int | None, expected: str) -> None:
    assert format_percent(ratio, locale, digits) == expected


def test_to_timezone_reads_rfc3339_and_takes_naive_times_as_utc() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    expected = datetime(2025, 1, 31, 14, 5, tzinfo=berlin)
    assert to_timezone("2025-01-31T13:05:00Z", berlin) == expected
    naive = datetime(2025, 7, 1, 12, 0)  # without tzinfo: read as UTC
    assert to_timezone(naive, "Europe/Berlin").hour == 14  # summer time: UTC+2
    aware = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    assert to_timezone(aware, "America/New_York").hour == 8


@pytest.mark.parametrize(
    ("moment", "locale", "tz", "fmt", "expected"),
    [
        ("2025-01-31T13:05:00Z", "de", "Europe/Berlin", "medium", "31.01.2025, 14:05:00"),
        ("2025-07-01T12:00:00+00:00", "de", "Europe/Berlin", "short", "01.07.25, 14:00"),
        ("2025-07-01T12:00:00Z", "en", "America/New_York", "short", "7/1/25, 8:00\u202fAM"),
    ],
)
def test_datetime_is_shown_in_the_user_time_zone(
    moment: str, locale: str, tz: str, fmt: str, expected: str
) -> None:
    assert format_moment(moment, locale, tz, fmt) == expected


def test_date_of_a_moment_is_the_day_in_the_user_time_zone() -> None:
    late_utc = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    assert format_day(late_utc, "de", "Europe/Berlin") == "01.02.2025"
    assert format_day(late_utc, "en", "UTC") == "Jan 31, 2025"
    assert format_day(date(2025, 1, 31), "de", "Europe/Berlin", "short") == "31.01.25"
    assert format_day("2025-01-31", "en", "Europe/Berlin") == "Jan 31, 2025"


# -- choosing the language and the time zone for a request --------------------------------------


@pytest.fixture
def app() -> Iterator[Flask]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test"
    frontend.init_app(app)
    yield app


@pytest.mark.parametrize(
    ("accept_language", "cookie", "user_locale", "expected"),
    [
        (None, None, None, "de"),
        ("en-GB,en;q=0.9", None, None, "en_GB"),
        ("en-US,en;q=0.9", None, None, "en_US"),
        ("en-AU,en;q=0.9", None, None, "en_GB"),  # every region but the US writes day first
        ("en-ie", None, None, "en_GB"),
        ("fr-FR,fr;q=0.9", None, None, "de"),
        ("fr-FR,en;q=0.8,de;q=0.7", None, None, "en_US"),  # a bare "en", as US browsers send
        ("fr-FR,en-GB;q=0.8,de;q=0.9", None, None, "de"),  # the better quality wins
        ("de-AT", None, None, "de"),
        ("de", "en", None, "en_US"),  # a cookie from before the regions
        ("de", "en_GB", None, "en_GB"),
        ("en", "de", None, "de"),
        ("en", "xx", None, "en_US"),
        ("en", "en", "de", "de"),
        ("en-US", "en_US", "en_GB", "en_GB"),
        ("de", None, "fr", "de"),
    ],
)
def test_locale_from_user_then_cookie_then_accept_language(
    app: Flask,
    accept_language: str | None,
    cookie: str | None,
    user_locale: str | None,
    expected: str,
) -> None:
    headers = {}
    if accept_language:
        headers["Accept-Language"] = accept_language
    if cookie:
        headers["Cookie"] = f"{locale.LANGUAGE_COOKIE}={cookie}"
    with app.test_request_context("/", headers=headers):
        g.user = SimpleNamespace(locale=user_locale) if user_locale else None
        assert select_locale() == expected


@pytest.mark.parametrize(
    ("user_timezone", "expected"),
    [
        (None, "Europe/Berlin"),
        ("", "Europe/Berlin"),
        ("America/New_York", "America/New_York"),
        ("Not/AZone", "Europe/Berlin"),
        ("../../etc/passwd", "Europe/Berlin"),
    ],
)
def test_timezone_from_user_else_berlin(
    app: Flask, user_timezone: str | None, expected: str
) -> None:
    with app.test_request_context("/"):
        g.user = SimpleNamespace(timezone=user_timezone)
        assert select_timezone() == expected


def test_filters_use_the_request_locale_and_user_time_zone(app: Flask) -> None:
    template = '{{ 123456|money("EUR") }} | {{ "2025-01-31T13:05:00Z"|datetime("short") }}'
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        g.user = SimpleNamespace(timezone="Europe/Berlin", locale=None)
        assert app.jinja_env.from_string(template).render() == f"1.234,56{NBSP}€ | 31.01.25, 14:05"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        g.user = SimpleNamespace(timezone="America/New_York", locale=None)
        assert app.jinja_env.from_string(template).render() == "€1,234.56 | 1/31/25, 8:05\u202fAM"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/", "/"),
        ("/transactions?status=captured&page=2", "/transactions?status=captured&page=2"),
        (None, None),
        ("", None),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("\\\\evil.example", None),
        ("javascript:alert(1)", None),
        ("transactions", None),
        ("/\tevil", None),
        ("/ok\r\nSet-Cookie: x=1", None),
    ],
)
def test_safe_next_allows_only_paths_on_this_site(target: str | None, expected: str | None) -> None:
    assert safe_next(target) == expected


def test_filters_show_a_dash_for_missing_values(app: Flask) -> None:
    template = "{{ none|money('EUR') }} {{ none|number }} {{ none|percent }} {{ none|datetime }}"
    with app.test_request_context("/"):
        assert app.jinja_env.from_string(template).render() == "– – – –"


def test_templates_translate_with_jinjas_new_style_gettext(app: Flask) -> None:
    template = (
        "{% autoescape true %}{{ _('Transactions') }} | {{ _('Page %(page)s', page='<2>') }} | "
        "{{ _('100%% sure') }} | {{ ngettext('%(num)s transaction', '%(num)s transactions', 2) }}"
        "{% endautoescape %}"
    )
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        assert app.jinja_env.from_string(template).render() == (
            "Transaktionen | Seite &lt;2&gt; | 100% sure | 2 Transaktionen"
        )
