"""End-to-end set-up: the sandbox and `sarportal serve` started like production, and Chromium.

Everything runs on loopback: the sandbox in its own process, the portal under gunicorn with a
fresh SQLite instance folder and one demo user per role, and Debian's Chromium driven by
Playwright (never a downloaded browser).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fixtures.served import PASSWORD, Portal, admin_code, running_portal
from tests.fixtures.services import require_service

CHROMIUM = Path("/usr/bin/chromium")
ROLES = ("viewer", "operator", "admin")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    require_service(
        "Chromium", CHROMIUM.exists(), "install Debian's package: apt-get install -y chromium"
    )
    with running_portal(tmp_path_factory.mktemp("e2e")) as portal:
        yield portal


@pytest.fixture(scope="session")
def browser(portal_server: Portal) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def sign_in(page: Any, portal: Portal, role: str, next_path: str = "/") -> None:
    """Sign in through the form as the demo user of `role`."""
    page.goto(f"{portal.url}/login")
    fill_sign_in(page, f"{role}@demo.example")


def fill_sign_in(page: Any, email: str) -> None:
    """Fill in the sign-in form shown on `page`, and the second factor's where the demo
    admin is asked for it."""
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/login")
    if urlsplit(page.url).path == "/login/second-factor" and email == "admin@demo.example":
        page.get_by_label("Code", exact=True).fill(admin_code())
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(lambda url: urlsplit(url).path != "/login/second-factor")


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations on the current page (axe-core)."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def create_users(portal: Portal, users: dict[str, str]) -> None:
    """Users (e-mail → role) of the demo organisation, made through `sarportal users create`
    (side by side), each with the demo provider client of its role: for journeys that change
    their own user (second factor, language) and so must not touch the shared demo users."""
    running = []
    for email, role in users.items():
        client = "demo-viewer" if role == "viewer" else "demo-operator"
        command = [
            sys.executable, "-m", "sarportal", "users", "create", "--email", email, "--role",
            role, "--organisation", "Musterhaus GmbH", "--provider-client-id", client,
            "--password-stdin",
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            env=portal.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdin is not None
        process.stdin.write(f"{PASSWORD}\n{client}-secret\n".encode())
        process.stdin.close()
        running.append((email, process))
    for email, process in running:
        assert process.stdout is not None
        output = process.stdout.read().decode(errors="replace")
        assert process.wait(timeout=60) == 0, (email, output)


@pytest.fixture(scope="session")
def signed_in_contexts(browser: Any) -> Iterator[dict[str, Any]]:
    """One browser context per user, kept for the session: its cookies keep the user signed in
    and its cache keeps the assets, so that each test need not sign in or load them again."""
    contexts: dict[str, Any] = {}
    yield contexts
    for context in contexts.values():
        context.close()


@pytest.fixture
def open_as(
    browser: Any, portal_server: Portal, signed_in_contexts: dict[str, Any]
) -> Iterator[Callable[..., Any]]:
    """`open_as(role_or_email, path)`: a new page, signed in as that user, showing `path`.
    When the portal no longer knows the user's session (another test may end every session),
    the page signs in through the form and comes back to `path`. The test's pages are closed
    at its end; the user's browser context (cookies, cache) is shared by the tests."""
    pages: list[Any] = []

    def open_page(who: str, path: str = "/") -> Any:
        email = who if "@" in who else f"{who}@demo.example"
        if email not in signed_in_contexts:
            context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 900})
            context.set_default_timeout(15_000)
            signed_in_contexts[email] = context
        page = signed_in_contexts[email].new_page()
        pages.append(page)
        page.goto(f"{portal_server.url}{path}")
        if urlsplit(page.url).path == "/login":
            fill_sign_in(page, email)
        return page

    yield open_page
    for page in pages:
        page.close()


def has_focus_ring(page: Any) -> bool:
    """Whether the focused element shows a focus indicator (an outline or a box shadow)."""
    return bool(
        page.evaluate(
            """() => {
              const style = getComputedStyle(document.activeElement);
              const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
              return outline || (style.boxShadow && style.boxShadow !== 'none');
            }"""
        )
    )


def tab_to(page: Any, selector: str, *, backwards: bool = False, limit: int = 120) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches `selector`; every element
    on the way must show a visible focus indicator."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            assert has_focus_ring(page), f"{selector} has no visible focus indicator"
            return
        focused = page.evaluate("() => document.activeElement.outerHTML.slice(0, 160)")
        assert focused.startswith("<body") or has_focus_ring(page), f"no focus ring on {focused}"
    raise AssertionError(f"{selector} was not reached with {key} in {limit} steps")
