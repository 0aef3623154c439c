"""The portal's look and feel: language and time zone, formatting filters, navigation, assets.

`init_app` binds Flask-Babel with the portal's locale and time-zone selectors, registers the Jinja
filters and globals that every page uses (`money`, `number`, `percent`, `datetime`, `date`,
`nav_items`, `asset_url`, `has_endpoint`), the language-switch blueprint, and long cache headers
for fingerprinted static files (they hold no customer data).

The formatting functions (`format_money` and friends) take the locale and time zone as arguments,
so they are plain functions that work, and are tested, without a request.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision
from blinker import Namespace
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse

from sarportal.domain.roles import Role
from sarportal.web.access import public

LOCALES: Final = ("de", "en")
DEFAULT_LOCALE: Final = "de"
DEFAULT_TIMEZONE: Final = "Europe/Berlin"
LANGUAGE_COOKIE: Final = "lang"
LANGUAGE_COOKIE_MAX_AGE: Final = int(timedelta(days=365).total_seconds())
STATIC_MAX_AGE: Final = int(timedelta(days=365).total_seconds())
TRANSLATIONS_DIR: Final = Path(__file__).parent / "translations"

_signals = Namespace()
language_changed = _signals.signal("language-changed")
"""Sent with the app as sender and `locale=` after a user picks a language, so the store can
remember it on the user (`g.user.locale` wins over the cookie)."""


@dataclass(frozen=True, slots=True)
class NavEntry:
    """One entry of the main navigation, visible from `min_role` upwards."""

    endpoint: str
    label: Any  # a lazy string: translated when rendered
    icon: str
    min_role: Role


@dataclass(frozen=True, slots=True)
class NavItem:
    """A navigation entry resolved for the current request."""

    endpoint: str
    label: str
    icon: str
    url: str
    active: bool


NAVIGATION: Final = (
    NavEntry("pages.index", _l("Dashboard"), "bi-speedometer2", Role.VIEWER),
    NavEntry("counter.index", _l("Counter"), "bi-calculator", Role.VIEWER),
    NavEntry("transactions.index", _l("Transactions"), "bi-receipt", Role.VIEWER),
    NavEntry("admin.users", _l("Users"), "bi-people", Role.ADMIN),
)


# -- plain formatting functions ------------------------------------------------------------------


def format_money(amount_minor: int, currency: str, locale: str | Locale) -> str:
    """Format an amount in minor units, e.g. 123456 EUR in de → '1.234,56 €'."""
    digits = get_currency_precision(currency)
    amount = Decimal(amount_minor).scaleb(-digits)
    return format_currency(amount, currency, locale=locale)


def format_number(
    value: int | float | Decimal, locale: str | Locale, digits: int | None = None
) -> str:
    """Format a number with the locale's separators; `digits` fixes the fraction digits."""
    if digits is None:
        return format_decimal(value, locale=locale)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale, decimal_quantization=True)


def format_percent(value: float | Decimal, locale: str | Locale, digits: int = 1) -> str:
    """Format a ratio as a percentage with the locale's pattern, e.g. 0.1234 in de → '12,3 %'."""
    loc = Locale.parse(locale)
    pattern = copy.copy(loc.percent_formats[None])
    pattern.frac_prec = (digits, digits)
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
    moment = to_timezone(value, tz)
    return babel_format_datetime(moment, format=fmt, tzinfo=moment.tzinfo, locale=locale)


def format_day(
    value: date | datetime | str, locale: str | Locale, tz: str | ZoneInfo, fmt: str = "medium"
) -> str:
    """Format a calendar date; a point in time is first moved to the user's time zone."""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = to_timezone(value, tz).date()
    return babel_format_date(value, format=fmt, locale=locale)


# -- request-bound selection -----------------------------------------------------------------------


def _user_attribute(name: str) -> str | None:
    user = g.get("user")
    value = getattr(user, name, None) if user is not None else None
    return value if isinstance(value, str) and value else None


def select_locale() -> str:
    """The user's language, else the `lang` cookie, else the best `Accept-Language` match."""
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = _user_attribute("locale")
    if chosen in LOCALES:
        return chosen
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in LOCALES:
        return cookie
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def select_timezone() -> str:
    """The user's time zone when it is a known one, else Europe/Berlin."""
    chosen = _user_attribute("timezone") if has_request_context() else None
    if chosen:
        try:
            ZoneInfo(chosen)
        except (ZoneInfoNotFoundError, ValueError):
            return DEFAULT_TIMEZONE
        return chosen
    return DEFAULT_TIMEZONE


def current_locale() -> str:
    """The locale of this request as a language tag ('de', 'en')."""
    locale = get_locale()
    return str(locale) if locale is not None else DEFAULT_LOCALE


def _formatting() -> tuple[Locale | str, str]:
    """This request's locale (as babel's object, which babel's formatters take without parsing it
    again) and time zone, looked up once per request: the template filters run for every cell
    of a table."""
    if not has_request_context():
        return get_locale() or DEFAULT_LOCALE, select_timezone()
    cached: tuple[Locale | str, str] | None = g.get("_portal_formatting")
    if cached is None:
        cached = (get_locale() or DEFAULT_LOCALE, select_timezone())
        g._portal_formatting = cached
    return cached


def _babel_locale() -> Locale | str:
    return _formatting()[0]


MISSING: Final = "–"
"""What the filters show for a value that is not there (None), e.g. a capture date not yet set."""


def _money(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return MISSING
    return format_money(amount_minor, currency, _babel_locale())


def _number(value: int | float | Decimal | None, digits: int | None = None) -> str:
    return MISSING if value is None else format_number(value, _babel_locale(), digits)


def _percent(value: float | Decimal | None, digits: int = 1) -> str:
    return MISSING if value is None else format_percent(value, _babel_locale(), digits)


def _datetime(value: datetime | str | None, fmt: str = "medium") -> str:
    if value is None:
        return MISSING
    return format_moment(value, *_formatting(), fmt)


def _date(value: date | datetime | str | None, fmt: str = "medium") -> str:
    if value is None:
        return MISSING
    return format_day(value, *_formatting(), fmt)


# -- navigation and assets ---------------------------------------------------------------------


def has_endpoint(endpoint: str) -> bool:
    """Whether the app has a view for `endpoint` (templates guard optional links with it)."""
    return endpoint in current_app.view_functions


def nav_items() -> list[NavItem]:
    """The main navigation for the signed-in user's role, only for endpoints that exist."""
    try:
        role = Role.parse(_user_attribute("role") or "")
    except ValueError:
        return []
    current = request.endpoint or ""
    items = []
    for entry in NAVIGATION:
        if not role.allows(entry.min_role) or not has_endpoint(entry.endpoint):
            continue
        blueprint = entry.endpoint.partition(".")[0]
        active = current == entry.endpoint or (
            entry.endpoint != "pages.index" and current.partition(".")[0] == blueprint
        )
        items.append(
            NavItem(entry.endpoint, str(entry.label), entry.icon, url_for(entry.endpoint), active)
        )
    return items


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest[:12]


def asset_url(filename: str) -> str:
    """URL of a static file with a content hash, so it can be cached for a year."""
    cache: dict[str, tuple[float, str]] = current_app.extensions["sarportal.assets"]
    static = Path(current_app.static_folder or "")
    path = static / filename
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return url_for("static", filename=filename)
    cached = cache.get(filename)
    if cached is None or cached[0] != mtime:
        cached = (mtime, _fingerprint(path))
        cache[filename] = cached
    return url_for("static", filename=filename, v=cached[1])


def _cache_static(response: Response) -> Response:
    if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = STATIC_MAX_AGE
        response.cache_control.immutable = True
    return response


# -- language switch ---------------------------------------------------------------------------

bp = Blueprint("ui", __name__)


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(char) < 32 or char == "\\" for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.post("/preferences/language")
@public
def set_language() -> WerkzeugResponse:
    """Remember the chosen language in a cookie and go back to the page the user was on."""
    locale = request.form.get("lang", "")
    if locale not in LOCALES:
        abort(400)
    fallback = url_for("pages.index") if has_endpoint("pages.index") else "/"
    response = redirect(safe_next(request.form.get("next")) or fallback, code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        locale,
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        samesite="Lax",
        httponly=True,
        secure=request.is_secure,
    )
    language_changed.send(current_app._get_current_object(), locale=locale)  # type: ignore[attr-defined]
    return response


def init_app(app: Flask) -> None:
    """Bind languages, time zones, filters, navigation, assets and the language switch."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", DEFAULT_TIMEZONE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.extensions["sarportal.assets"] = {}
    app.jinja_env.filters.update(
        money=_money, number=_number, percent=_percent, datetime=_datetime, date=_date
    )
    app.jinja_env.globals.update(
        nav_items=nav_items,
        asset_url=asset_url,
        has_endpoint=has_endpoint,
        current_locale=current_locale,
        locales=LOCALES,
    )
    app.after_request(_cache_static)
    app.register_blueprint(bp)
