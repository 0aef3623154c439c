"""End-to-end set-up: the sandbox and `sarportal serve` started like production, and Chromium.

Everything runs on loopback: the sandbox in its own process, the portal under gunicorn with a
fresh SQLite instance folder and one demo user per role, and Debian's Chromium driven by
Playwright (never a downloaded browser).
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.fixtures.services import require_service

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "e2e-Correct-Horse-42"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(check: Any, what: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {seconds:.0f} s")
        time.sleep(0.05)


@dataclass
class Portal:
    """The running portal: its URL, the sandbox behind it, where its files and logs are."""

    url: str
    sandbox_url: str
    sandbox_state: Path
    instance_dir: Path
    log: Path
    env: dict[str, str]

    def control(self, path: str, body: dict[str, Any]) -> None:
        """Use the sandbox's test controls (faults, token expiry)."""
        token = (self.sandbox_state / "control-token").read_text().strip()
        httpx.post(
            f"{self.sandbox_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            verify=ssl.create_default_context(cafile=str(self.sandbox_state / "ca.pem")),
        ).raise_for_status()


@contextmanager
def running_portal(
    root: Path,
    *,
    sandbox_flags: tuple[str, ...] = (),
    env_extra: dict[str, str] | None = None,
    worker: bool = False,
) -> Iterator[Portal]:
    """The sandbox, `sarportal serve` (and optionally `sarportal worker`), started like production
    under `root`; their output goes to files there, their temporary files to `root/tmp`."""
    sandbox_state, instance_dir, log = root / "sandbox", root / "instance", root / "portal.log"
    sandbox_state.mkdir(parents=True)
    (root / "tmp").mkdir()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sarportal", "sandbox", "--port", "0", "--state-dir",
         str(sandbox_state), "--transactions", "5000", "--seed", "11", *sandbox_flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    processes = [sandbox]
    try:
        ready = sandbox_state / "sandbox.json"
        _wait_for(ready.exists, "the sandbox", sandbox)
        sandbox_url = orjson.loads(ready.read_bytes())["url"]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SARPORTAL_")},
            "SARPORTAL_INSTANCE_DIR": str(instance_dir),
            "SARPORTAL_PROVIDER_URL": sandbox_url,
            "SARPORTAL_PROVIDER_CA_BUNDLE": str(sandbox_state / "ca.pem"),
            "SARPORTAL_COOKIE_SECURE": "0",
            "SARPORTAL_LOG_DIR": str(root / "logs"),
            "TMPDIR": str(root / "tmp"),
            **(env_extra or {}),
        }
        subprocess.run(
            [sys.executable, "-c", _PREPARE, PASSWORD], env=env, check=True, capture_output=True
        )
        port = _free_port()
        with log.open("wb") as output:
            portal = subprocess.Popen(
                [sys.executable, "-m", "sarportal", "serve", "--host", "127.0.0.1", "--port",
                 str(port), "--workers", "1"],
                env=env, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(portal)
        if worker:
            with (root / "worker.log").open("wb") as output:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "sarportal", "worker", "--concurrency", "2"],
                        env=env,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(healthy, "the portal", portal)
        yield Portal(url, sandbox_url, sandbox_state, instance_dir, log, env)
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    require_service(
        "Chromium", CHROMIUM.exists(), "install Debian's package: apt-get install -y chromium"
    )
    with running_portal(tmp_path_factory.mktemp("e2e")) as portal:
        yield portal


_PREPARE = """
import sys
from sarportal.config import Settings
from sarportal.store import Store
from sarportal.store.demo import ensure_demo_users
from sarportal.store.migrate import upgrade
store = Store(Settings.from_env())
upgrade(store.engine)
ensure_demo_users(store, password=sys.argv[1])
"""


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
    page.get_by_label("E-mail").fill(f"{role}@demo.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/login")


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
            page.get_by_label("E-mail").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: urlsplit(url).path != "/login")
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
