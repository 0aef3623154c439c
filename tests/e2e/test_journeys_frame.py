"""Journeys through the portal's frame in Chromium: sign-in, language, sessions, accessibility."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.e2e.conftest import Portal, axe_violations, sign_in

pytestmark = pytest.mark.e2e


def test_sign_in_lands_on_the_first_page(page: Any, portal_server: Portal) -> None:
    sign_in(page, portal_server, "operator")
    assert page.url.rstrip("/") == portal_server.url
    assert page.get_by_role("navigation").count() >= 1
    assert page.get_by_text("operator@demo.example").count() >= 1


def test_wrong_password_gets_a_clear_message(page: Any, portal_server: Portal) -> None:
    page.goto(f"{portal_server.url}/login")
    page.get_by_label("E-mail").fill("viewer@demo.example")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").count() >= 1
    assert "/login" in page.url


def test_language_switch_changes_the_page_language(page: Any, portal_server: Portal) -> None:
    sign_in(page, portal_server, "viewer")
    page.get_by_role("button", name="Language").click()
    page.locator("button[name='lang'][value='de']").click()
    page.wait_for_load_state("networkidle")
    try:
        assert page.locator("html").get_attribute("lang") == "de"
        page.get_by_role("button", name="Sprache").click()
        page.get_by_role("button", name="English (UK)").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == "en-GB"
    finally:  # the choice is kept on the account: give the shared viewer back its US English
        page.locator(".dropdown-toggle:has(.bi-translate)").click()
        page.locator("button[name='lang'][value='en_US']").click()
        page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en-US"


def test_an_expired_session_returns_to_sign_in_and_back(page: Any, portal_server: Portal) -> None:
    sign_in(page, portal_server, "viewer")
    page.goto(f"{portal_server.url}/account")
    database = portal_server.instance_dir / "sarportal.sqlite3"
    with sqlite3.connect(database) as connection:  # the server forgets every session
        connection.execute("DELETE FROM sessions")
    page.goto(f"{portal_server.url}/account")
    assert "/login" in page.url
    page.get_by_label("E-mail").fill("viewer@demo.example")
    page.get_by_label("Password").fill("e2e-Correct-Horse-42")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/account")


@pytest.mark.parametrize("path", ["/login"])
def test_public_pages_have_no_serious_accessibility_violations(
    page: Any, portal_server: Portal, path: str
) -> None:
    page.goto(f"{portal_server.url}{path}")
    assert axe_violations(page) == []


@pytest.mark.parametrize(
    ("role", "path"), [("viewer", "/"), ("viewer", "/account"), ("admin", "/admin/users")]
)
def test_signed_in_pages_have_no_serious_accessibility_violations(
    page: Any, portal_server: Portal, role: str, path: str
) -> None:
    sign_in(page, portal_server, role)
    page.goto(f"{portal_server.url}{path}")
    page.wait_for_load_state("networkidle")
    if path == "/":  # the statistics have finished and the page has settled
        page.locator("[data-part='done']").first.wait_for(state="visible", timeout=60_000)
        page.wait_for_timeout(300)
    violations = axe_violations(page)
    assert violations == [], [
        (v["id"], [(n["target"], n.get("failureSummary", "")[:160]) for n in v["nodes"]])
        for v in violations
    ]


def test_no_content_security_policy_violation_on_the_frame(
    page: Any, portal_server: Portal
) -> None:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    sign_in(page, portal_server, "admin")
    page.goto(f"{portal_server.url}/admin/users")
    page.wait_for_load_state("networkidle")
    assert not [m for m in messages if "Content Security Policy" in m], messages
