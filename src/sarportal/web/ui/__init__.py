"""How pages look and speak: language, time zone, formats, labels, forms, assets.

    locale.py       the request's language and time zone; the language switch (blueprint `ui`)
    templating.py   the Jinja filters and `_()` every page uses
    formats.py      money, numbers, percentages and times in a locale (plain functions)
    labels.py       the one table of what the contract's words are called, and their tones
    filter_form.py  the filter form the table, the dashboard and the counter share
    csv_export.py   the CSV writer of every export
    forms.py        the portal's forms: field limits and messages
    navigation.py   the main navigation per role
    assets.py       static files: fingerprints, cache lifetimes, precompressed twins

Imports `web.core` only, never a room. `init_app` binds it all to the app.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import Babel

from sarportal.web.ui import assets, locale, navigation, templating


def init_app(app: Flask) -> None:
    """Bind languages, time zones, filters, navigation, assets and the language switch."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", locale.DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", locale.DEFAULT_TIMEZONE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(locale.TRANSLATIONS_DIR))
    Babel(app, locale_selector=locale.select_locale, timezone_selector=locale.select_timezone)
    templating.install(app)
    app.extensions["sarportal.assets"] = {}
    app.jinja_env.globals.update(
        nav_items=navigation.nav_items,
        asset_url=assets.asset_url,
        has_endpoint=navigation.has_endpoint,
        current_locale=lambda: locale.request_formats().locale,
        language_tag=lambda: locale.language_tag(locale.request_formats().locale),
        locales=locale.LOCALES,
        language_names=locale.LANGUAGE_NAMES,
    )
    if "static" in app.view_functions:
        app.view_functions["static"] = assets.send_static
    app.after_request(assets.cache_static)
    app.register_blueprint(locale.bp)
