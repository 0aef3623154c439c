"""What must hold across several server processes and restarts, against `sarportal serve`.

Each test talks HTTP to real gunicorn processes on loopback (SQLite, no Redis: the default
deployment), with a fresh connection per request, as separate browsers would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.fixtures.served import PASSWORD, Portal, _free_port, running_portal

pytestmark = pytest.mark.slow

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def portals(tmp_path: Path) -> Iterator[tuple[Portal, Portal]]:
    """Two `sarportal serve` processes on one database, as behind a load balancer."""
    with running_portal(tmp_path) as first:
        second = replace(first, url=f"http://127.0.0.1:{_free_port()}", server=None)
        second.start()
        try:
            yield first, second
        finally:
            second.stop()


def sign_in(portal: Portal, email: str, password: str) -> httpx.Response:
    """A new browser (a fresh connection and no cookies) signs in; the form's answer."""
    with httpx.Client(base_url=portal.url, timeout=30) as browser:
        page = browser.get("/login")
        found = CSRF.search(page.text)
        assert found, page.text[:500]
        return browser.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": found.group(1)},
        )


def test_a_lock_holds_in_every_process_and_after_a_restart(portals: tuple[Portal, Portal]) -> None:
    first, second = portals
    email = "operator@demo.example"
    answers = [sign_in((first, second)[n % 2], email, "wrong-password-1").status_code
               for n in range(12)]  # fmt: skip
    assert answers[:9] == [401] * 9 and answers[9:] == [429] * 3, answers
    right = [sign_in(portal, email, PASSWORD).status_code for portal in (first, second) * 3]
    assert right == [429] * 6, right
    first.restart()
    second.restart()
    assert sign_in(first, email, PASSWORD).status_code == 429
    assert sign_in(second, email, PASSWORD).status_code == 429


def test_the_address_budget_is_counted_once_over_every_process(
    portals: tuple[Portal, Portal],
) -> None:
    first, second = portals
    answers = [
        sign_in((first, second)[n % 2], f"nobody-{n}@example.com", "wrong-password-1").status_code
        for n in range(52)
    ]
    assert answers[:50] == [401] * 50 and answers[50:] == [429, 429], answers
    assert sign_in(first, "viewer@demo.example", PASSWORD).status_code == 429
