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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    page.wait_for_load_state("networkidle")


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations on the current page (axe-core)."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
