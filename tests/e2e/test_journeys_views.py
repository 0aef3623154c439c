"""Journeys with saved views in Chromium: save the table's filters from the views menu, open
the view again from the menu with its count of matches, share it, open the shareable link as a
colleague (in German), rename and delete it on the manage page; axe finds nothing serious on the
open menu or the manage page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import (
    CHROMIUM,
    Portal,
    axe_violations,
    create_users,
)
from tests.fixtures.served import PASSWORD

pytestmark = pytest.mark.e2e

OWNER, COLLEAGUE = "views-owner@demo.example", "views-colleague@demo.example"


@pytest.fixture(scope="module")
def team(portal_server: Portal) -> None:
    assert CHROMIUM.exists()
    create_users(portal_server, {OWNER: "operator", COLLEAGUE: "viewer"})


@pytest.fixture
def german(browser: Any, portal_server: Portal, team: None) -> Iterator[Any]:
    """A page of the colleague's own browser, which asks for German."""
    context = browser.new_context(locale="de-DE", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def _report(violations: list[dict[str, Any]]) -> list[Any]:
    return [
        (v["id"], [(n["target"], n.get("failureSummary", "")[:300]) for n in v["nodes"]])
        for v in violations
    ]


def _query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _open_menu(page: Any) -> Any:
    page.locator(".portal-views-menu > button").click()
    menu = page.locator(".portal-views-list.show")
    menu.wait_for()
    return menu


def test_a_view_is_saved_opened_shared_renamed_and_deleted(
    open_as: Any, german: Any, portal_server: Portal, team: None
) -> None:
    page = open_as(OWNER, "/transactions?status=captured&country=CH&per_page=25")
    count = page.locator("#transactions-count").inner_text()
    menu = _open_menu(page)
    assert "No saved views yet" in menu.inner_text()
    violations = axe_violations(page)
    assert violations == [], _report(violations)
    menu.get_by_label("Save these filters as a view").fill("Swiss captures")
    menu.get_by_label("Share with my organisation").check()
    menu.get_by_role("button", name="Save view").click()
    page.wait_for_url(lambda url: "view=" not in url and "country=CH" in url)
    assert "The view “Swiss captures” is saved." in page.locator("main").inner_text()
    assert _query(page) == {"status": ["captured"], "country": ["CH"], "per_page": ["25"]}
    assert "View: Swiss captures" in page.locator(".portal-views-menu > button").inner_text()

    # From the bare table, the menu opens the view again, with the count of its matches.
    page.goto(f"{portal_server.url}/transactions")
    menu = _open_menu(page)
    entry = menu.get_by_role("link", name=re.compile("Swiss captures"))
    badge = entry.locator(".portal-views-count")
    page.wait_for_function(
        "(el) => /\\d/.test(el.textContent)", arg=badge.element_handle(), timeout=15_000
    )
    assert re.sub(r"\D", "", badge.inner_text()) == re.sub(r"\D", "", count)
    assert page.locator("#transactions-filters").is_visible()  # the count went in its badge
    assert urlsplit(page.url).path == "/transactions" and not urlsplit(page.url).query
    entry.click()
    page.wait_for_url(lambda url: "country=CH" in url)
    assert page.locator(ROW_LINKS).count() == 25

    # The manage page: the shareable link, which a colleague opens (in German).
    page.goto(f"{portal_server.url}/views")
    row = page.locator("tr", has_text="Transactions").first
    link = row.locator(".portal-views-link").input_value()
    assert urlsplit(link).path.startswith("/views/")
    violations = axe_violations(page)
    assert violations == [], _report(violations)

    german.goto(link.replace(urlsplit(link).netloc, urlsplit(portal_server.url).netloc))
    german.get_by_label("E-Mail").fill(COLLEAGUE)  # the sign-in form, in German
    german.get_by_label("Passwort").fill(PASSWORD)
    german.get_by_role("button", name="Anmelden").click()
    german.wait_for_url(lambda url: "country=CH" in url)
    assert _query(german)["status"] == ["captured"]
    button = german.locator(".portal-views-menu > button")
    assert "Ansicht: Swiss captures" in button.inner_text()
    menu = _open_menu(german)
    assert "Mit Ihrer Organisation geteilt" in menu.inner_text()
    violations = axe_violations(german)
    assert violations == [], _report(violations)

    # Renamed, then deleted: the colleague's link is gone with it.
    field = row.get_by_role("textbox", name=re.compile("Name of"))
    field.fill("Swiss captures, 25 a page")
    row.get_by_role("button", name="Rename").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/views")
    assert "now called “Swiss captures, 25 a page”" in page.locator("main").inner_text()
    page.locator("tr", has_text="Swiss captures, 25 a page").get_by_role(
        "button", name=re.compile("Delete")
    ).click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/views")
    assert "You have no saved views yet" in page.locator("main").inner_text()
    german.goto(link.replace(urlsplit(link).netloc, urlsplit(portal_server.url).netloc))
    assert "Ansicht nicht gefunden" in german.locator("main").inner_text()


ROW_LINKS = ".portal-transactions-table tbody tr td:nth-child(2) a"
