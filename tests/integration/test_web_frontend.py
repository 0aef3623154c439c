"""The frame every page sits in: base.html through the app, the language switch, the served
front-end assets, and the CSP rule that pages carry no inline script or style.

`portal` is the real app of `create_app` (SQLite in a temporary instance folder, migrated);
`minimal_app` is a bare Flask app with only the front end and stand-in pages, for what needs a
signed-in user of each role without the sign-in machinery.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import brotli
import pytest
from flask import Blueprint, Flask, g, render_template_string
from flask.testing import FlaskClient

import sarportal.web.ui as frontend
from sarportal.web.core.access import public
from sarportal.web.ui import assets, locale, navigation
from tests.fixtures.services import require_service

WEB = Path(frontend.__file__).parents[1]
VENDOR = WEB / "static" / "vendor"
_spec = importlib.util.spec_from_file_location(
    "build_assets", Path(__file__).parents[2] / "scripts" / "build_assets.py"
)
assert _spec is not None and _spec.loader is not None
build_assets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_assets)

PAGE = """{% extends "base.html" %}
{% block title %}{{ _("Dashboard") }}{% endblock %}
{% block content %}<p id="figures">{{ 123456|money("EUR") }}</p>
<p id="day">{{ "2026-12-05T10:00:00Z"|date("short") }}</p>{% endblock %}"""


class PageParser(HTMLParser):
    """Collects what the CSP cares about: scripts, style elements and attributes, assets."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.event_handlers: list[str] = []
        self.assets: list[str] = []
        self.meta: dict[str, str] = {}
        self.html_lang: str | None = None
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.style_attributes += [tag for name, _ in attrs if name == "style"]
        self.event_handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "html":
            self.html_lang = attributes.get("lang")
        if tag == "script":
            if attributes.get("src"):
                self.assets.append(attributes["src"] or "")
            else:
                self.inline_scripts += 1
        if tag == "style":
            self.style_elements += 1
        if tag == "link" and attributes.get("href"):
            self.assets.append(attributes["href"] or "")
        if tag == "meta" and attributes.get("name"):
            self.meta[attributes["name"] or ""] = attributes.get("content") or ""


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def user(role: str, **extra: Any) -> SimpleNamespace:
    fields = {"email": f"{role}@demo.example", "display_name": role.title(), "role": role}
    fields.update({"locale": None, "timezone": "Europe/Berlin"} | extra)
    return SimpleNamespace(**fields)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[FlaskClient]:
    """A client of the real app: SQLite in a fresh instance folder, schema migrated."""
    from sarportal.config import Settings
    from sarportal.store.migrate import upgrade
    from sarportal.web import create_app
    from sarportal.web.core.services import EXTENSION

    environ = {"SARPORTAL_INSTANCE_DIR": str(tmp_path), "SARPORTAL_COOKIE_SECURE": "0"}
    app = create_app(Settings.from_env(environ))
    app.config["TESTING"] = True
    store = app.extensions[EXTENSION].store
    upgrade(store.engine)
    yield app.test_client()
    store.dispose()


def csrf_token_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "base.html carries the CSRF token for htmx"
    return match.group(1)


@pytest.mark.parametrize("path", ["/login", "/no-such-page"])
def test_portal_pages_have_no_inline_script_or_style(portal: FlaskClient, path: str) -> None:
    response = portal.get(path)
    assert response.status_code in (200, 404)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = parse(response.get_data(as_text=True))
    assert page.inline_scripts == 0
    assert page.style_elements == 0
    assert page.style_attributes == []
    assert page.event_handlers == []


@pytest.mark.parametrize(
    ("accept_language", "lang", "text"),
    [
        ("de-DE,de;q=0.9,en;q=0.5", "de", "Seite nicht gefunden"),
        ("en-US,en;q=0.9", "en-US", "Page not found"),
        ("en-GB,en;q=0.9", "en-GB", "Page not found"),
        ("fr-FR", "de", "Seite nicht gefunden"),
    ],
)
def test_portal_speaks_the_browser_language(
    portal: FlaskClient, accept_language: str, lang: str, text: str
) -> None:
    response = portal.get("/no-such-page", headers={"Accept-Language": accept_language})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert parse(html).html_lang == lang
    assert text in html


def test_portal_language_switch_needs_csrf_and_refuses_off_site_next(portal: FlaskClient) -> None:
    html = portal.get("/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'action="/preferences/language"' in html
    without_token = portal.post("/preferences/language", data={"lang": "en_GB", "next": "/login"})
    assert without_token.status_code == 400
    form = {"lang": "en_GB", "next": "https://evil.example/", "csrf_token": csrf_token_of(html)}
    response = portal.post("/preferences/language", data=form)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert response.headers["Set-Cookie"].startswith("lang=en_GB;")
    html = portal.get("/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert parse(html).html_lang == "en-GB"


def test_portal_serves_vendor_assets(portal: FlaskClient) -> None:
    require_service("front-end assets", VENDOR.is_dir(), "run `make install`")
    page = parse(portal.get("/login").get_data(as_text=True))
    vendor = [url for url in page.assets if url.startswith("/static/vendor/")]
    assert len(vendor) >= 4
    for url in vendor:
        response = portal.get(url)
        assert response.status_code == 200, url
        assert "immutable" in response.headers["Cache-Control"], url
        response.close()


@pytest.mark.parametrize(
    ("role", "sees_admin"), [("viewer", False), ("operator", False), ("admin", True)]
)
def test_portal_frame_for_a_signed_in_user(
    portal: FlaskClient, role: str, sees_admin: bool
) -> None:
    from flask import render_template

    from sarportal.domain.roles import Role
    from sarportal.web.core.access import CurrentUser

    app = portal.application
    signed_in = CurrentUser(
        id=1,
        organisation_id=1,
        organisation_name="Demo GmbH",
        email=f"{role}@demo.example",
        display_name="Dana Demo",
        role=Role(role),
        locale=None,
        timezone="Europe/Berlin",
        has_second_factor=True,
        must_enrol_second_factor=False,
        via_token=False,
    )
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        g.user = signed_in
        html = render_template("pages/index.html")
    page = parse(html)
    assert page.inline_scripts == page.style_elements == 0
    assert page.style_attributes == []
    assert 'aria-label="Hauptnavigation"' in html
    assert "Übersicht" in html
    assert ('href="/admin/users"' in html) is sees_admin
    assert 'href="/account"' in html
    assert re.search(
        r'<form method="post" action="/logout">\s*<input type="hidden" name="csrf_token"', html
    )
    assert "Abmelden" in html
    assert "Dana Demo" in html


@pytest.fixture
def minimal_app() -> Iterator[Flask]:
    """A bare Flask app with only the front end, and stand-ins for the pages' endpoints."""
    app = Flask("sarportal.web", root_path=str(WEB))
    app.config.update(SECRET_KEY="test", TESTING=True)
    frontend.init_app(app)
    pages = Blueprint("pages", __name__)

    @pages.get("/")
    @public
    def index() -> str:
        return render_template_string(PAGE, current_user=g.get("user"))

    transactions = Blueprint("transactions", __name__)

    @transactions.get("/transactions", endpoint="index")
    @public
    def index_transactions() -> str:
        return render_template_string(PAGE, current_user=g.get("user"))

    admin = Blueprint("admin", __name__)

    @admin.get("/admin/users")
    @public
    def users() -> str:
        return render_template_string(PAGE, current_user=g.get("user"))

    for blueprint in (pages, transactions, admin):
        app.register_blueprint(blueprint)

    @app.before_request
    def sign_in_from_header() -> None:
        from flask import request

        role = request.headers.get("X-Test-Role")
        g.user = user(role) if role else None

    yield app


@pytest.fixture
def client(minimal_app: Flask) -> FlaskClient:
    return minimal_app.test_client()


def test_base_page_has_no_inline_script_or_style(client: FlaskClient) -> None:
    response = client.get("/", headers={"X-Test-Role": "admin"})
    assert response.status_code == 200
    page = parse(response.get_data(as_text=True))
    assert page.inline_scripts == 0
    assert page.style_elements == 0
    assert page.style_attributes == []
    assert page.event_handlers == []


def test_htmx_is_configured_for_the_csp_and_keeps_no_page_copies(client: FlaskClient) -> None:
    page = parse(client.get("/").get_data(as_text=True))
    config = json.loads(page.meta["htmx-config"])
    assert config["includeIndicatorStyles"] is False  # else htmx injects an inline <style>
    assert config["allowEval"] is False
    assert config["historyCacheSize"] == 0  # no snapshots of pages with customer data
    assert config["selfRequestsOnly"] is True


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        (None, [], ["Dashboard", "Transactions", "Users"]),
        ("viewer", ["Dashboard", "Transactions"], ["Users"]),
        ("operator", ["Dashboard", "Transactions"], ["Users"]),
        ("admin", ["Dashboard", "Transactions", "Users"], []),
    ],
)
def test_navigation_follows_the_role_and_the_existing_endpoints(
    minimal_app: Flask, role: str | None, visible: list[str], hidden: list[str]
) -> None:
    with minimal_app.test_request_context("/transactions", headers={"Accept-Language": "en"}):
        minimal_app.preprocess_request()
        g.user = user(role) if role else None
        items = navigation.nav_items()
    labels = [item.label for item in items]
    assert labels == visible
    assert "Counter" not in labels  # counter.index does not exist in this app
    assert not set(hidden) & set(labels)
    active = [item.label for item in items if item.active]
    assert active == (["Transactions"] if role else [])


def test_current_page_is_marked_for_assistive_technology(client: FlaskClient) -> None:
    html = client.get("/transactions", headers={"X-Test-Role": "viewer"}).get_data(as_text=True)
    assert re.search(r'href="/transactions"\s+aria-current="page"', html)
    assert 'href="#main"' in html  # skip link
    assert '<main id="main"' in html


def test_german_with_accept_language_de(client: FlaskClient) -> None:
    headers = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5", "X-Test-Role": "viewer"}
    html = client.get("/", headers=headers).get_data(as_text=True)
    assert parse(html).html_lang == "de"
    assert "Übersicht" in html
    assert 'aria-label="Hauptnavigation"' in html
    assert "Zum Inhalt springen" in html
    assert "1.234,56\xa0€" in html


@pytest.mark.parametrize(
    ("accept_language", "lang", "day"),
    [
        ("en-GB", "en-GB", "05/12/2026"),
        ("en-US,en;q=0.5", "en-US", "12/5/26"),
        ("de", "de", "05.12.26"),
    ],
)
def test_english_follows_the_browser_region(
    client: FlaskClient, accept_language: str, lang: str, day: str
) -> None:
    html = client.get("/", headers={"Accept-Language": accept_language}).get_data(as_text=True)
    assert parse(html).html_lang == lang
    assert f'<p id="day">{day}</p>' in html
    if lang.startswith("en"):
        assert "Skip to main content" in html
        assert "€1,234.56" in html


def test_language_switch_sets_the_cookie_and_goes_back(client: FlaskClient) -> None:
    response = client.post(
        "/preferences/language", data={"lang": "en_GB", "next": "/transactions?status=captured"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/transactions?status=captured"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=en_GB;")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Max-Age=31536000" in cookie
    html = client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert parse(html).html_lang == "en-GB"  # the cookie wins over Accept-Language


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/path", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_language_switch_refuses_an_off_site_next(client: FlaskClient, next_url: str) -> None:
    response = client.post("/preferences/language", data={"lang": "de", "next": next_url})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_language_switch_refuses_an_unknown_language(client: FlaskClient) -> None:
    response = client.post("/preferences/language", data={"lang": "xx", "next": "/"})
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers


def test_language_switch_tells_the_store_about_the_choice(minimal_app: Flask) -> None:
    chosen: list[str] = []

    def remember(sender: Flask, locale: str) -> None:
        chosen.append(locale)

    with locale.language_changed.connected_to(remember, sender=minimal_app):
        minimal_app.test_client().post("/preferences/language", data={"lang": "en"})
    assert chosen == ["en_US"]  # "en", as forms sent it before the regions


def test_vendor_and_own_assets_are_served_with_long_cache(client: FlaskClient) -> None:
    require_service("front-end assets", VENDOR.is_dir(), "run `make install`")
    page = parse(client.get("/", headers={"X-Test-Role": "admin"}).get_data(as_text=True))
    assets = [url for url in page.assets if url.startswith("/static/")]
    expected = ["bootstrap.min.css", "bootstrap-icons.min.css", "portal.css", "theme.js"]
    expected += ["bootstrap.bundle.min.js", "htmx.min.js", "portal.js"]
    for name in expected:
        assert any(name in url for url in assets), f"{name} is not linked from base.html"
    for url in assets:
        assert "?v=" in url, f"{url} has no fingerprint"
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.cache_control.max_age == 31536000, url
        assert response.cache_control.immutable, url
        response.close()


@pytest.mark.parametrize(
    "path",
    [
        "vendor/echarts/echarts.portal.min.js",
        "vendor/echarts/i18n/langDE.js",
        "vendor/bootstrap-icons/font/fonts/bootstrap-icons.woff2",
    ],
)
def test_libraries_for_later_pages_are_served(client: FlaskClient, path: str) -> None:
    require_service("front-end assets", VENDOR.is_dir(), "run `make install`")
    response = client.get(f"/static/{path}")
    assert response.status_code == 200
    assert len(response.get_data()) > 1000
    response.close()


@pytest.mark.parametrize(
    ("accept_encoding", "encoding"),
    [
        ("gzip, deflate, br, zstd", "br"),  # what Chromium sends
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("identity", None),
        (None, None),
    ],
)
def test_text_assets_go_precompressed_when_the_browser_accepts_it(
    client: FlaskClient, accept_encoding: str | None, encoding: str | None
) -> None:
    require_service("front-end assets", VENDOR.is_dir(), "run `make install`")
    name = "vendor/echarts/echarts.portal.min.js"
    original = (WEB / "static" / name).read_bytes()
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding else {}
    with client.application.test_request_context():
        url = assets.asset_url(name)
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert response.cache_control.immutable and response.cache_control.max_age == 31536000
    body = response.get_data()
    unpacked = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding](body)
    assert unpacked == original
    assert int(response.headers["Content-Length"]) == len(body)
    if encoding == "br":
        assert len(body) < 0.35 * len(original)
    again = client.get(url, headers={**headers, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    response.close()


def test_a_stale_or_missing_twin_is_never_sent(tmp_path: Path) -> None:
    """An asset edited after `make install` is sent as it is, not as its older compressed twin;
    one without twins carries no Vary."""
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.js").write_text("let fresh = 1;\n" * 200)
    (static / "small.js").write_text("let s = 1;\n")
    assert len(build_assets.compress(static)) == 2  # small.js is below the threshold
    app = Flask("sarportal.web", root_path=str(WEB), static_folder=str(static))
    app.config.update(SECRET_KEY="test", TESTING=True)
    frontend.init_app(app)
    client = app.test_client()
    packed = client.get("/static/app.js", headers={"Accept-Encoding": "br"})
    assert packed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(packed.get_data()) == (static / "app.js").read_bytes()
    edited = static / "app.js"
    edited.write_text("let edited = 2;\n" * 200)
    twin = static / "app.js.br"
    os.utime(twin, (edited.stat().st_mtime - 10, edited.stat().st_mtime - 10))
    os.utime(static / "app.js.gz", (edited.stat().st_mtime - 10, edited.stat().st_mtime - 10))
    plain = client.get("/static/app.js", headers={"Accept-Encoding": "br, gzip"})
    assert "Content-Encoding" not in plain.headers
    assert plain.get_data() == edited.read_bytes()
    small = client.get("/static/small.js", headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in small.headers and "Vary" not in small.headers
    assert client.get("/static/../secret.js", headers={"Accept-Encoding": "br"}).status_code == 404


@pytest.mark.parametrize("status", [400, 403, 404, 429, 500, 503])
def test_error_pages_say_what_happened_with_the_support_id(minimal_app: Flask, status: int) -> None:
    with minimal_app.test_request_context("/", headers={"Accept-Language": "de"}):
        from flask import render_template

        html = render_template(f"errors/{status}.html", support_id="a1b2c3d4e5f6")
    page = parse(html)
    assert page.inline_scripts == page.style_elements == 0
    assert page.style_attributes == []
    assert "a1b2c3d4e5f6" in html
    assert "Support-ID" in html
    assert "Traceback" not in html
