"""The request's language and time zone: chosen by the user, their cookie or their browser,
looked up once per request (`request_formats`), and the language switch (blueprint `ui`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.support import NullTranslations
from blinker import Namespace
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_babel import get_locale, get_translations
from werkzeug.wrappers import Response as WerkzeugResponse

from sarportal.web.core.access import public

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
TRANSLATIONS_DIR: Final = Path(__file__).parents[1] / "translations"

T = TypeVar("T")
_signals = Namespace()
language_changed = _signals.signal("language-changed")
"""Sent with the app as sender and `locale=` after a user picks a language (None: follow the
browser), so the store can remember it on the user (`g.user.locale` wins over the cookie)."""

# -- request-bound selection -----------------------------------------------------------------------


def user_attribute(name: str) -> str | None:
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
    chosen = known_locale(user_attribute("locale")) or known_locale(
        request.cookies.get(LANGUAGE_COOKIE)
    )
    return chosen or requested_locale()


def requested_locale() -> str:
    """What the browser asks for (`Accept-Language`, with its region), else German."""
    offered = (tag for tag, quality in request.accept_languages if quality > 0)
    return browser_locale(offered) or DEFAULT_LOCALE


def select_timezone() -> str:
    """The user's time zone when it is a known one, else Europe/Berlin."""
    chosen = user_attribute("timezone") if has_request_context() else None
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
    fallback = url_for("pages.index") if "pages.index" in current_app.view_functions else "/"
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
