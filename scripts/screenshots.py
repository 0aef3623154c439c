"""`make screenshots`: start the demo, sign in with Chromium, and photograph each page.

The pictures in docs/screenshots/ are what the README shows; they come from this script and the
running demo, never from hand edits.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
PORT = int(os.environ.get("SCREENSHOT_PORT", "8765"))
CHROMIUM = "/usr/bin/chromium"
PAGES = [
    ("login", "/login", None),
    ("dashboard", "/", "operator"),
    ("counter", "/counter", "operator"),
    ("transactions", "/transactions", "operator"),
    ("transaction-detail", None, "operator"),
    ("views-menu", "/transactions?status=captured&country=CH", "operator"),
    ("payouts", "/payouts", "operator"),
    ("payout-detail", None, "operator"),
    ("claims", "/claims", "operator"),
    ("bulk-review", None, "operator"),
    ("saved-views", "/views", "operator"),
    ("account", "/account", "operator"),
    ("admin-users", "/admin/users", "admin"),
    ("approvals", "/approvals", "admin"),
]


def _start_demo() -> tuple[subprocess.Popen[str], str, str]:
    demo = subprocess.Popen(
        [sys.executable, "-m", "sarportal", "demo", "--port", str(PORT), "--transactions",
         "50000", "--state-dir", str(ROOT / "var" / "screenshots")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    password = key = None
    deadline = time.monotonic() + 120
    assert demo.stdout is not None
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        found = re.search(r"password (\S+)", line)
        if found:
            password = found.group(1)
        found = re.search(r"authenticator key (\S+)", line)
        if found:
            key = found.group(1)
        if "Ctrl-C stops everything" in line and password and key:
            break
    if password is None or key is None:
        demo.terminate()
        raise SystemExit("the demo did not start")
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return demo, password, key


VIEWS = [
    ("Swiss captures", "/transactions?status=captured&country=CH", True),
    ("Overdue B2B", "/transactions?preset=overdue&customer_type=b2b", True),
    ("Last 7 days by day", "/?period=7d", False),
]


def _save_views(context: object, base: str) -> None:
    """Save a few views through the views menu, as a user would (a name already saved stays)."""
    page = context.new_page()  # type: ignore[attr-defined]
    for name, path, shared in VIEWS:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        page.locator(".portal-views-menu > button").click()
        menu = page.locator(".portal-views-list.show")
        menu.get_by_label("Save these filters as a view").fill(name)
        if shared:
            menu.get_by_label("Share with my organisation").check()
        menu.get_by_role("button", name="Save view").click()
        page.wait_for_load_state("networkidle")
    page.close()


def _ask_for_approval(admin: object, operator: object, base: str) -> None:
    """An approval threshold of €10.00, and an operator's refund of €20.00 waiting above it."""
    page = admin.new_page()  # type: ignore[attr-defined]
    page.goto(f"{base}/approvals/settings")
    page.get_by_label("Approval needed above").first.fill("10.00")
    page.get_by_role("button", name="Save thresholds").click()
    page.wait_for_load_state("networkidle")
    page.close()
    page = operator.new_page()  # type: ignore[attr-defined]
    page.goto(f"{base}/transactions?status=captured&currency=EUR&order=amount_desc")
    page.locator("table a[href^='/transactions/tx_']").first.click()
    page.wait_for_load_state("networkidle")
    page.locator("[data-portal-action='refund']").click()
    dialog = page.locator("#action-dialog")
    dialog.get_by_label("Amount").fill("20.00")
    dialog.get_by_label("Reason").select_option("damaged")
    dialog.get_by_role("button", name="Continue").click()
    dialog.get_by_role("button", name="Request approval").click()
    page.wait_for_load_state("networkidle")
    page.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    demo, password, key = _start_demo()
    base = f"http://127.0.0.1:{PORT}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for theme in ("light",):
                contexts: dict[str | None, object] = {}
                for name, path, role in PAGES:
                    context = contexts.get(role)
                    if context is None:
                        context = browser.new_context(
                            locale="en-US", viewport={"width": 1440, "height": 960},
                            color_scheme=theme,
                        )  # fmt: skip
                        contexts[role] = context
                        if role:
                            page = context.new_page()  # type: ignore[attr-defined]
                            page.goto(f"{base}/login")
                            page.get_by_label("E-mail").fill(f"{role}@demo.example")
                            page.get_by_label("Password").fill(password)
                            page.get_by_role("button", name="Sign in").click()
                            page.wait_for_load_state("networkidle")
                            if page.url.endswith("/login/second-factor"):  # the admin
                                code = page.get_by_label("Code", exact=True)
                                code.fill(pyotp.TOTP(key).now())
                                page.get_by_role("button", name="Continue").click()
                                page.wait_for_load_state("networkidle")
                    if name == "views-menu":
                        _save_views(context, base)
                    if name == "approvals":
                        _ask_for_approval(context, contexts["operator"], base)
                    page = context.new_page()  # type: ignore[attr-defined]
                    if name == "bulk-review":  # three ticked rows, to be captured in bulk
                        page.goto(f"{base}/transactions?status=authorized&country=DE")
                        for number in range(3):
                            page.locator("input.portal-bulk-tick").nth(number).check()
                        page.locator("#bulk-menu").click()
                        page.get_by_role("button", name="Capture in full…").click()
                    elif name == "payout-detail":  # the latest payout paid out
                        page.goto(f"{base}/payouts?status=paid")
                        page.locator("table a[href^='/payouts/po_']").first.click()
                    elif path is None:  # the first transaction of the table
                        page.goto(f"{base}/transactions")
                        page.locator("table a[href^='/transactions/tx_']").first.click()
                    else:
                        page.goto(f"{base}{path}")
                    page.wait_for_load_state("networkidle")
                    if name == "views-menu":  # open, with its counts
                        page.locator(".portal-views-menu > button").click()
                        page.wait_for_load_state("networkidle")
                    time.sleep(2.5 if name in ("dashboard", "counter") else 0.3)
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                    print(f"docs/screenshots/{name}.png")
            browser.close()
    finally:
        demo.terminate()
        demo.wait(timeout=20)


if __name__ == "__main__":
    main()
