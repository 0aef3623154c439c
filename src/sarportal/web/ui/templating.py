"""The Jinja filters and globals every page uses (`money`, `number`, `percent`, `datetime`,
`date`, `_()`, `ngettext()`), reading the request's formats once (`locale.request_formats`).

The formatting itself is `web.ui.formats`: plain functions of the locale and time zone."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from flask import (
    Flask,
)
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from sarportal.web.ui.formats import (
    format_day,
    format_moment,
    format_money,
    format_number,
    format_percent,
)
from sarportal.web.ui.locale import RequestFormats, request_formats

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


def install(app: Flask) -> None:
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
