"""The portal's look and feel: language and time zone, formatting filters, navigation, assets.

`init_app` binds Flask-Babel with the portal's locale and time-zone selectors, registers the Jinja
filters and globals that every page uses (`money`, `number`, `percent`, `datetime`, `date`,
`nav_items`, `asset_url`, `has_endpoint`), the language-switch blueprint, and long cache headers
for fingerprinted static files (they hold no customer data).

The formatting itself (`format_money` and friends) is in `web.ui.formats`: plain functions of the
locale and time zone that work, and are tested, without a request. Here each request's locale,
time zone and translations are looked up once (`request_formats`) for the filters and `_()`.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.support import NullTranslations
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
    send_file,
    url_for,
)
from flask_babel import Babel, get_locale, get_translations
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.security import safe_join
from werkzeug.wrappers import Response as WerkzeugResponse

from sarportal.domain.roles import Role
from sarportal.web.core.access import public
from sarportal.web.ui.formats import (
    format_day,
    format_moment,
    format_money,
    format_number,
    format_percent,
)

LOCALES: Final = ("de", "en_GB", "en_US")
"""The languages and regions the portal writes: German, and English with day-first (UK) or
month-first (US) dates. A choice of "en" made before the regions existed reads as en_US."""
DEFAULT_LOCALE: Final = "de"
LANGUAGE_NAMES: Final = {"de": "Deutsch", "en_GB": "English (UK)", "en_US": "English (US)"}
_ALIASES: Final = {"en": "en_US"}
_MONTH_FIRST_REGIONS: Final = frozenset({"US", "PH", "UM", "AS", "GU", "MP", "PR", "VI"})
DEFAULT_TIMEZONE: Final = "Europe/Berlin"
LANGUAGE_COOKIE: Final = "lang"
LANGUAGE_COOKIE_MAX_AGE: Final = int(timedelta(days=365).total_seconds())
STATIC_MAX_AGE: Final = int(timedelta(days=365).total_seconds())
TRANSLATIONS_DIR: Final = Path(__file__).parents[1] / "translations"

T = TypeVar("T")
_signals = Namespace()
language_changed = _signals.signal("language-changed")
"""Sent with the app as sender and `locale=` after a user picks a language (None: follow the
browser), so the store can remember it on the user (`g.user.locale` wins over the cookie)."""


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


# -- request-bound selection -----------------------------------------------------------------------


def _user_attribute(name: str) -> str | None:
    user = g.get("user")
    value = getattr(user, name, None) if user is not None else None
    return value if isinstance(value, str) and value else None


def known_locale(value: str | None) -> str | None:
    """`value` as one of LOCALES (an old "en" is en_US), or None."""
    value = _ALIASES.get(value or "", value)
    return value if value in LOCALES else None


def browser_locale(tags: Iterable[str]) -> str | None:
    """The first of the browser's language tags, best first, that the portal writes: German in
    any region is "de"; English is en_US for the US (and a bare "en", as browsers there send),
    en_GB for every other region, which writes dates day first."""
    for tag in tags:
        language, _, region = tag.replace("_", "-").partition("-")
        language, region = language.lower(), region.split("-")[0].upper()
        if language == "de":
            return "de"
        if language == "en":
            return "en_US" if region in ("", *_MONTH_FIRST_REGIONS) else "en_GB"
    return None


def select_locale() -> str:
    """The user's choice, else the `lang` cookie, else the browser's first language the portal
    writes (`Accept-Language`, with its region), else German."""
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = known_locale(_user_attribute("locale")) or known_locale(
        request.cookies.get(LANGUAGE_COOKIE)
    )
    return chosen or requested_locale()


def requested_locale() -> str:
    """What the browser asks for (`Accept-Language`, with its region), else German."""
    offered = (tag for tag, quality in request.accept_languages if quality > 0)
    return browser_locale(offered) or DEFAULT_LOCALE


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
    """The locale of this request as Babel names it ('de', 'en_GB', 'en_US')."""
    locale = get_locale()
    return str(locale) if locale is not None else DEFAULT_LOCALE


def language_tag(locale: str) -> str:
    """A locale as BCP 47 writes it, for `lang` attributes and the browser's Intl: 'en-GB'."""
    return locale.replace("_", "-")


def per_locale(build: Callable[[], T]) -> Callable[[], T]:
    """`build` run once per language and its result kept for the life of the process: for the
    tables of translated words a page hands its templates, which depend on nothing else. The
    result is shared by every request, so callers must not change it."""
    made: dict[str, T] = {}

    @functools.wraps(build)
    def cached() -> T:
        locale = request_formats().locale
        found = made.get(locale)
        if found is None:
            found = made[locale] = build()
        return found

    return cached


@dataclass(frozen=True, slots=True)
class RequestFormats:
    """What the template filters and `_()` need of a request, looked up once per request: they
    run for every cell of a table, and flask-babel looks the locale up again on every call."""

    locale: str
    zone: ZoneInfo
    translations: NullTranslations


def request_formats() -> RequestFormats:
    """This request's locale, time zone and translations (outside a request: the defaults)."""
    if not has_request_context():
        return _look_up_formats()
    found: RequestFormats | None = g.get("_portal_formats")
    if found is None:
        found = g._portal_formats = _look_up_formats()
    return found


def _look_up_formats() -> RequestFormats:
    return RequestFormats(current_locale(), ZoneInfo(select_timezone()), get_translations())


FORMATS_VARIABLE: Final = "portal_formats"
"""The template variable that holds the page's `RequestFormats` (set by a context processor),
so that the filters and `_()` read it from the page instead of looking it up for every call."""

MISSING: Final = "–"
"""What the filters show for a value that is not there (None), e.g. a capture date not yet set."""


def _formats_of(context: Context) -> RequestFormats:
    found = context.get(FORMATS_VARIABLE)
    return found if isinstance(found, RequestFormats) else request_formats()


@pass_context
def _money(context: Context, amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return MISSING
    return format_money(amount_minor, currency, _formats_of(context).locale)


@pass_context
def _number(
    context: Context, value: int | float | Decimal | None, digits: int | None = None
) -> str:
    return MISSING if value is None else format_number(value, _formats_of(context).locale, digits)


@pass_context
def _percent(context: Context, value: float | Decimal | None, digits: int | None = 1) -> str:
    return MISSING if value is None else format_percent(value, _formats_of(context).locale, digits)


@pass_context
def _datetime(context: Context, value: datetime | str | None, fmt: str = "medium") -> str:
    if value is None:
        return MISSING
    formats = _formats_of(context)
    return format_moment(value, formats.locale, formats.zone, fmt)


@pass_context
def _date(context: Context, value: date | datetime | str | None, fmt: str = "medium") -> str:
    if value is None:
        return MISSING
    formats = _formats_of(context)
    return format_day(value, formats.locale, formats.zone, fmt)


@pass_context
def _gettext(context: Context, text: str) -> str:
    return _formats_of(context).translations.ugettext(text)


@pass_context
def _page_gettext(context: Context, text: str, **variables: Any) -> str:
    """Templates' `_()` with Jinja's new-style meaning (the translation, marked safe when the
    page escapes, formatted with `variables`), without Jinja's wrapper around `_gettext`: a
    page calls it dozens of times, and the wrapper costs more than the translation."""
    found = _gettext(context, text)
    if context.eval_ctx.autoescape:
        found = Markup(found)  # noqa: S704 (our own translations, as Jinja's gettext does)
    return found % variables if "%" in found else found  # no "%": formatting changes nothing


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _formats_of(context).translations.ungettext(singular, plural, n)


@pass_context
def _pgettext(context: Context, message_context: str, text: str) -> str:
    return _formats_of(context).translations.upgettext(message_context, text)


@pass_context
def _npgettext(context: Context, message_context: str, singular: str, plural: str, n: int) -> str:
    translations = _formats_of(context).translations
    return translations.unpgettext(message_context, singular, plural, n)


def _install_formats(app: Flask) -> None:
    """The formatting filters, and templates' `_()` and `ngettext()`, reading the page's
    formats (flask-babel's own look the locale up again on every call)."""
    app.context_processor(lambda: {FORMATS_VARIABLE: request_formats()})
    app.jinja_env.filters.update(
        money=_money, number=_number, percent=_percent, datetime=_datetime, date=_date
    )
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext,
        ngettext=_ngettext,
        pgettext=_pgettext,
        npgettext=_npgettext,
        newstyle=True,
    )
    app.jinja_env.globals["gettext"] = _page_gettext


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
    """URL of a static file with a content hash, so it can be cached for a year.

    The static files are part of the release a process serves, so each URL is made once per
    process; in debug mode, again for every page, so that edited files get a new hash."""
    cache: dict[tuple[str, str], str] = current_app.extensions["sarportal.assets"]
    key = (filename, request.script_root if has_request_context() else "")
    found = cache.get(key)
    if found is None or current_app.debug:
        found = cache[key] = _fingerprinted_url(filename)
    return found


def _fingerprinted_url(filename: str) -> str:
    path = Path(current_app.static_folder or "") / filename
    try:
        digest = _fingerprint(path)
    except OSError:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=digest)


PRECOMPRESSED: Final = (("br", ".br"), ("gzip", ".gz"))
"""The encodings `scripts/build_assets.py` writes beside each text asset, best first."""


def send_static(filename: str) -> Response:
    """A static file, or its precompressed twin (`name.br`, `name.gz`) when the browser accepts
    that encoding and the twin is not older than the file (an edited file is sent as it is until
    `make install` compresses it again)."""
    app = current_app
    path = safe_join(app.static_folder or "", filename)
    if path is None or not os.path.isfile(path):
        return app.send_static_file(filename)
    twins = [(name, path + suffix) for name, suffix in PRECOMPRESSED]
    twins = [(name, twin) for name, twin in twins if _fresh_twin(twin, path)]
    for encoding, twin in twins:
        if request.accept_encodings[encoding]:
            response = send_file(
                twin,
                mimetype=mimetypes.guess_type(filename)[0] or "application/octet-stream",
                max_age=app.get_send_file_max_age(filename),
                conditional=True,
            )
            response.content_encoding = encoding
            break
    else:
        response = app.send_static_file(filename)
    if twins:
        response.vary.add("Accept-Encoding")  # caches keep one copy per encoding
    return response


def _fresh_twin(twin: str, original: str) -> bool:
    try:
        return os.stat(twin).st_mtime >= os.stat(original).st_mtime
    except OSError:
        return False


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
    locale = known_locale(request.form.get("lang"))
    if locale is None:
        abort(400)
    fallback = url_for("pages.index") if has_endpoint("pages.index") else "/"
    response = redirect(safe_next(request.form.get("next")) or fallback, code=303)
    remember_locale(response, locale)
    return response


def remember_locale(response: WerkzeugResponse, locale: str | None) -> None:
    """Keep the choice in the `lang` cookie (None: follow the browser, the cookie goes) and tell
    the store, which keeps it on a signed-in user."""
    if locale is None:
        response.delete_cookie(
            LANGUAGE_COOKIE, samesite="Lax", httponly=True, secure=request.is_secure
        )
    else:
        response.set_cookie(
            LANGUAGE_COOKIE,
            locale,
            max_age=LANGUAGE_COOKIE_MAX_AGE,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    language_changed.send(current_app._get_current_object(), locale=locale)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """Bind languages, time zones, filters, navigation, assets and the language switch."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", DEFAULT_TIMEZONE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    _install_formats(app)
    app.extensions["sarportal.assets"] = {}
    app.jinja_env.globals.update(
        nav_items=nav_items,
        asset_url=asset_url,
        has_endpoint=has_endpoint,
        current_locale=lambda: request_formats().locale,
        language_tag=lambda: language_tag(request_formats().locale),
        locales=LOCALES,
        language_names=LANGUAGE_NAMES,
    )
    if "static" in app.view_functions:
        app.view_functions["static"] = send_static
    app.after_request(_cache_static)
    app.register_blueprint(bp)
