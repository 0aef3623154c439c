"""Journeys of one person's account in Chromium: a second factor set up and used to sign in, and
the language switch. Each uses a user of its own, since both change the user for good."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Portal, axe_violations, create_users

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_users(portal_server: Portal) -> dict[str, str]:
    """A new user for each journey here (journey → e-mail address)."""
    tag = secrets.token_hex(3)
    users = {
        "second_factor": (f"e2e-one-{tag}@demo.example", "operator"),
        "language": (f"e2e-two-{tag}@demo.example", "viewer"),
    }
    create_users(portal_server, dict(users.values()))
    return {journey: email for journey, (email, _) in users.items()}


def _sign_in_with_password(page: Any, portal: Portal, email: str, then: str = "/") -> None:
    page.goto(f"{portal.url}/login?{urlencode({'next': then})}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_with_a_second_factor(
    page: Any, portal_server: Portal, own_users: dict[str, str]
) -> None:
    email = own_users["second_factor"]
    _sign_in_with_password(page, portal_server, email, "/account")
    page.wait_for_url(f"{portal_server.url}/account")
    # set up: the authenticator gets the key shown for typing in by hand
    page.get_by_role("link", name="Set up now").click()
    page.wait_for_url("**/account/second-factor")
    secret = page.locator("code.fs-6").inner_text().replace(" ", "")
    authenticator = pyotp.TOTP(secret)
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    page.get_by_label("Code from the app").fill(authenticator.now())
    page.get_by_role("button", name="Turn on the second factor").click()
    codes = page.locator("ul.font-monospace li")
    codes.first.wait_for()
    assert codes.count() == 10
    page.get_by_role("link", name="I have saved them").click()
    page.wait_for_url("**/account")
    assert page.locator("dd .badge").filter(has_text="Enabled").count() == 1
    # sign out, and in again: the password alone is not enough any more
    banner = page.get_by_role("banner")
    banner.get_by_role("button", name="User menu").click()
    banner.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login**")
    _sign_in_with_password(page, portal_server, email)
    page.wait_for_url("**/login/second-factor**")
    assert axe_violations(page) == []
    page.get_by_label("Code").fill(authenticator.at(time.time() - 3600))  # a stale code
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("alert").first.wait_for()
    assert "/login/second-factor" in page.url
    # the code of the next time step: each code works once, and the set-up used this step's
    page.get_by_label("Code").fill(authenticator.at(time.time() + authenticator.interval))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{portal_server.url}/")
    assert page.get_by_text(email).count() >= 1


def test_the_language_switch_shows_german(
    page: Any, portal_server: Portal, own_users: dict[str, str]
) -> None:
    email = own_users["language"]
    _sign_in_with_password(page, portal_server, email, "/transactions")
    page.wait_for_url(f"{portal_server.url}/transactions")
    nav = page.get_by_role("navigation", name="Needs action")
    assert nav.is_visible()
    page.get_by_role("button", name="Language").click()
    page.get_by_role("button", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    assert page.url == f"{portal_server.url}/transactions"
    assert page.get_by_role("navigation", name="Handlungsbedarf").is_visible()
    assert page.get_by_role("button", name="Filter anwenden").is_visible()
    assert page.title().startswith("Transaktionen")
    # the choice belongs to the account: a new browser on the same account gets German too
    fresh = page.context.browser.new_context(locale="en-US")
    try:
        other = fresh.new_page()
        _sign_in_with_password(other, portal_server, email, "/account")
        other.wait_for_url(f"{portal_server.url}/account")
        assert other.locator("html").get_attribute("lang") == "de"
    finally:
        fresh.close()
    # and back
    page.get_by_role("button", name="Sprache").click()
    page.get_by_role("button", name="English (US)").click()
    expect(page.locator("html")).to_have_attribute("lang", "en-US")
    assert page.get_by_role("navigation", name="Needs action").is_visible()
